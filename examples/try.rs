use cmdai::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let t = std::time::Instant::now();
    let mut e = engine::Engine::load(
        std::path::Path::new(&args[1]),
        "x".into(),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    eprintln!("load {:?}", t.elapsed());
    let ctx = context::Context::gather(context::Shell::Bash);
    let p = prompt::build(&ctx, &args[2]);
    let opts = engine::GenOptions {
        max_tokens: 64,
        temperature: 0.0,
        seed: 0,
        cache_dir: Some("/tmp/kvc".into()),
    };
    let g = e.generate(&p, &opts, extract::is_complete).unwrap();
    eprintln!(
        "{:?} prefix={} req={} gen={} {}",
        g.timings, g.prefix_tokens, g.request_tokens, g.generated_tokens, g.prefix_cache
    );
    eprintln!("RAW: {:?}", g.text);
    println!("{:?}", extract::command(&g.text));
}
