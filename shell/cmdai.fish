# cmdai fish integration: type a request, press Ctrl-G, review the command.
# Load with: cmdai init fish | source   (options: --key KEY, --no-bind)
# The widget never runs anything: it only replaces the line you typed.

function __cmdai_widget --description 'cmdai: replace the request on the command line with a command'
    set -l request (commandline -b | string collect)
    if test -z (string trim -- "$request" | string collect)
        echo
        echo "cmdai: type what you want first, e.g. 'list files by size'"
        commandline -f repaint
        return 0
    end
    echo
    echo -n "cmdai: thinking..."
    set -l errfile (command mktemp (set -q TMPDIR; and echo $TMPDIR; or echo /tmp)/cmdai.XXXXXX)
    # Without a handler, Ctrl-C would abort this function halfway.
    function __cmdai_on_int --on-signal SIGINT
    end
    set -l out (command cmdai --widget --shell fish -- "$request" 2>$errfile </dev/null | string collect)
    set -l rc $pipestatus[1]
    functions -e __cmdai_on_int
    set -l msg (command cat $errfile 2>/dev/null | string collect)
    command rm -f -- $errfile
    printf '\r\033[K'
    if test "$rc" = 0; and test -n "$out"
        commandline -r -- "$out"
        commandline -C (string length -- "$out")
    else
        # fish clears the line on Ctrl-C: put the request back as typed.
        commandline -r -- "$request"
        if test -z "$msg"
            if test "$rc" -gt 128
                set msg "cmdai: interrupted"
            else
                set msg "cmdai: no command (exit $rc)"
            end
        end
    end
    if test -n "$msg"
        echo $msg
    end
    commandline -f repaint
end

if not set -q CMDAI_NO_BIND; and test "$__cmdai_bind" != 0
    set -l key $__cmdai_key
    if test -z "$key"
        # fish 4 names keys (ctrl-g); fish 3 uses escapes (\cg).
        if string match -qr '^[0-3]\.' -- $version
            set key \cg
        else
            set key ctrl-g
        end
    end
    bind $key __cmdai_widget
    bind -M insert $key __cmdai_widget
end
