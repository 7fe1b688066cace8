# cmdai fish integration: type a request, press Ctrl-G, review the command.
# Load with: cmdai init fish | source   (options: --key KEY, --no-bind)
# The widget never runs anything: it only replaces the line you typed.
# Builtins are called as `builtin NAME` so that the user's functions named
# like them (a `commandline` wrapper, `echo`, `printf`, …) do not run instead.

# What the widget put on the line last, and the call that gave it: Ctrl-G
# on that very text asks the same call for a different command. Shell
# variables only: nothing is written anywhere.
set -g __cmdai_last_out ''
set -g __cmdai_last_word ''
set -g __cmdai_last_opts --widget
# The last command run at the prompt and its exit status, for a fix on an
# empty line. The shell keeps no output, and nothing is re-run to get it.
set -g __cmdai_failed_cmd ''
set -g __cmdai_failed_status 0

# fish_postexec comes only after a line that ran, with that line and its
# status (Ctrl-C or Enter on an empty line keep the last record).
function __cmdai_postexec --on-event fish_postexec
    set -g __cmdai_failed_status $status
    set -g __cmdai_failed_cmd $argv[1]
    # A new prompt: Ctrl-G on the same text is a new request again.
    set -g __cmdai_last_out ''
end

function __cmdai_widget --description 'cmdai: replace the request on the command line with a command'
    set -l request (builtin commandline -b | builtin string collect)
    set -l opts
    set -l word
    set -l args
    set -l hint 0
    if builtin test -n "$__cmdai_last_out"; and builtin test "$request" = "$__cmdai_last_out"
        # Pressed again on its own suggestion: another one for the same request.
        set opts $__cmdai_last_opts
        set word $__cmdai_last_word
        set args $opts --shell fish "--next=$request" -- $word
    else if not builtin string trim -- "$request" | builtin string length -q
        if builtin test "$__cmdai_failed_status" = 0
            or not builtin string trim -- "$__cmdai_failed_cmd" | builtin string length -q
            set hint 1
        else
            # An empty line right after a failure: propose a corrected command.
            set opts fix --widget "--status=$__cmdai_failed_status"
            set word $__cmdai_failed_cmd
            set args $opts --shell fish -- $word
        end
    else
        set opts --widget
        set word $request
        set args $opts --shell fish -- $word
    end
    # After printing, fish redraws the prompt and command line from as many
    # lines up as the cursor was below their top: one line fewer than the
    # prompt has, plus the command line's lines above the cursor. So that
    # many newlines follow a message (as fish's own bindings do).
    set -l up (builtin math (builtin count (fish_prompt 2>/dev/null)) - 1)
    if builtin test $up -lt 0
        set up 0
    end
    set -l cursor (builtin commandline -C)
    set -l cursor_line (builtin commandline -L)
    set -l lines (builtin count (builtin commandline))
    if builtin test $hint = 1
        # Over the prompt (an empty line has nothing to keep): the hint,
        # then the prompt again below it.
        if builtin test $up -gt 0
            builtin printf '\033[%dA' $up
        end
        builtin printf '\r\033[J%s\n' "cmdai: type what you want first, e.g. 'list files by size'"
        builtin string repeat -N -n $up \n
        builtin commandline -f repaint
        return 0
    end
    # Below the command line, whatever line of it the cursor is on.
    builtin string repeat -N -n (builtin math $lines - $cursor_line + 1) \n
    builtin printf '%s' "cmdai: thinking..."
    # Without a handler, Ctrl-C would abort this function halfway.
    function __cmdai_on_int --on-signal SIGINT
    end
    # No temporary file: the helper's stdout goes to `read`, its stderr
    # through the block's 2>&1 into the command substitution.
    set -l out
    set -l rc 1
    set -l msg (begin
            command cmdai $args </dev/null | builtin read -z out
            set rc $pipestatus[1]
        end 2>&1 | builtin string collect)
    builtin functions -e __cmdai_on_int
    # Like a command substitution, drop the trailing newlines.
    if set -q out[1]
        set out (builtin string replace -r -- '\n+$' '' $out | builtin string collect)
    end
    builtin printf '\r\033[K'
    if builtin test "$rc" = 0; and builtin test -n "$out"
        builtin commandline -r -- "$out"
        builtin commandline -C (builtin string length -- "$out")
        set -g __cmdai_last_out "$out"
        set -g __cmdai_last_opts $opts
        set -g __cmdai_last_word $word
    else
        # fish clears the line on Ctrl-C: put the request back as typed.
        builtin commandline -r -- "$request"
        builtin commandline -C $cursor
        if builtin test -z "$msg"
            if builtin test "$rc" -gt 128
                set msg "cmdai: interrupted"
            else
                set msg "cmdai: no command (exit $rc)"
            end
        end
    end
    if builtin test -n "$msg"
        builtin printf '%s\n' "$msg"
    end
    builtin string repeat -N -n (builtin math $up + $cursor_line - 1) \n
    builtin commandline -f repaint
end

if not set -q CMDAI_NO_BIND; and builtin test "$__cmdai_bind" != 0
    set -l key $__cmdai_key
    if builtin test -z "$key"
        # fish 4 names keys (ctrl-g); fish 3 uses escapes (\cg).
        if builtin string match -qr '^[0-3]\.' -- $version
            set key \cg
        else
            set key ctrl-g
        end
    end
    # Vi mode: "default" is its command mode and "insert" its insert mode;
    # fish_vi_key_bindings erases only preset bindings, not these.
    builtin bind $key __cmdai_widget
    builtin bind -M insert $key __cmdai_widget
end
