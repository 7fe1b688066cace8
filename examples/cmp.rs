use cmdai::*;
use candle_core::{Device, Tensor, Module};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::Path::new(&args[1]);
    let g = engine::gguf::Gguf::open(path).unwrap();
    let mut f = std::fs::File::open(path).unwrap();
    let ct = candle_core::quantized::gguf_file::Content::read(&mut f).unwrap();
    for name in ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.0.attn_norm.weight"] {
        let t = g.tensor(name).unwrap();
        let w = engine::qmatmul::MappedWeight::new(&t, &g.map).unwrap();
        let qt = ct.tensor(&mut f, name, &Device::Cpu).unwrap();
        let deq = qt.dequantize(&Device::Cpu).unwrap();
        let row0 = deq.flatten_to(0).unwrap().get(3).unwrap().to_vec1::<f32>().unwrap_or_else(|_| deq.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        let mut out = vec![0f32; w.cols()];
        let id = if deq.rank() == 1 { 0 } else { 3 };
        w.gather_rows(&[id], &mut out).unwrap();
        println!("{name} {:?} dims {:?} rows {} cols {} mine {:?} ref {:?}", qt.dtype(), t.dims, w.rows(), w.cols(), &out[..4], &row0[..4]);
        if deq.rank() == 2 {
            let x = Tensor::randn(0f32, 1., (3, w.cols()), &Device::Cpu).unwrap();
            let a = x.apply_op1_no_bwd(&w).unwrap();
            let b = candle_core::quantized::QMatMul::from_qtensor(qt).unwrap().forward(&x).unwrap();
            println!("  mm mine {:?} ref {:?}", a.get(1).unwrap().narrow(0,0,4).unwrap().to_vec1::<f32>().unwrap(), b.get(1).unwrap().narrow(0,0,4).unwrap().to_vec1::<f32>().unwrap());
        }
    }
}
