# cmdai bash integration: type a request, press Ctrl-G, review the command.
# Load with: eval "$(cmdai init bash)"   (options: --key KEY, --no-bind)
# The widget never runs anything: it only replaces the line you typed.
# shellcheck shell=bash

# The user's aliases must not apply to the words below: bash reads an eval'd
# string one command at a time, so alias expansion is off while the rest is
# read and put back as it was at the end. Command substitutions are parsed
# again when they run, with the user's setting: their words are quoted
# (`\builtin`), which no alias matches. Builtins are called as
# `builtin NAME` so that functions named like them do not run instead.
__cmdai_aliases=$(\builtin shopt -p expand_aliases)
\builtin shopt -u expand_aliases

if ((BASH_VERSINFO[0] < 4)); then
  builtin printf 'cmdai: the Ctrl-G widget needs bash 4 or newer (this is bash %s); run cmdai "request" instead\n' "$BASH_VERSION" >&2
else
  _cmdai_key=${_cmdai_key:-'\C-g'}

  __cmdai_widget() {
    local request=$READLINE_LINE point=$READLINE_POINT
    if [[ -z ${request//[[:space:]]/} ]]; then
      builtin printf '\r\033[K%s\n' "cmdai: type what you want first, e.g. 'list files by size'" >&2
      return 0
    fi
    builtin printf '%s' "cmdai: thinking..." >&2
    local framed rc msg out='' meta len bytes old_int _junk
    old_int=$(\builtin trap -p INT)
    # Ctrl-C must stop the helper but not reach readline, which would drop
    # the line. So bash ignores SIGINT for the call; cmdai, inheriting that,
    # installs its own handler and exits with 130.
    builtin trap '' INT
    # No temporary file, and no command run but cmdai (after an external
    # command run as a job from a `bind -x` function, bash 5.2's readline
    # took the next space typed for Enter): one command substitution brings
    # back the helper's stderr, a newline, its stdout, a newline, and
    # "STATUS CHARS BYTES" (the length of stdout), which splits the two apart.
    # A failure is caught with `|| rc=$?`: not a failed command for the
    # user's `set -e` or ERR trap.
    rc=0
    framed=$(
      rc=0
      {
        out=$(\builtin command cmdai --widget --shell bash -- "$request" </dev/null) || rc=$?
      } 2>&1
      len=${#out}
      LC_ALL=C
      \builtin printf '\n%s\n%s %s %s' "$out" "$rc" "$len" "${#out}"
    ) || rc=$?
    if [[ -n $old_int ]]; then
      builtin eval '\builtin '"$old_int"
    else
      builtin trap - INT
    fi
    msg=$framed
    meta=${framed##*$'\n'}
    len=${meta#* }
    bytes=${len#* }
    len=${len% *}
    if [[ $framed == *$'\n'* && $meta == [0-9]*' '[0-9]*' '[0-9]* && $meta != *[!0-9\ ]* ]]; then
      rc=${meta%% *}
      framed=${framed%$'\n'*}
      out=${framed:${#framed}-len}
      msg=${framed:0:${#framed}-len-1}
    fi
    while [[ $msg == *$'\n' ]]; do msg=${msg%$'\n'}; done
    # Keys typed while waiting (an early Enter) must not run the suggestion.
    while IFS= builtin read -r -s -n 1 -t 0.01 _junk; do :; done
    builtin printf '\r\033[K' >&2
    if ((rc == 0)) && [[ -n $out ]]; then
      READLINE_LINE=$out
      # READLINE_POINT counts bytes.
      READLINE_POINT=$bytes
    else
      READLINE_LINE=$request
      READLINE_POINT=$point
      if [[ -z $msg ]] && ((rc > 128)); then
        msg="cmdai: interrupted"
      elif [[ -z $msg ]]; then
        msg="cmdai: no command (exit $rc)"
      fi
    fi
    if [[ -n $msg ]]; then
      builtin printf '%s\n' "$msg" >&2
    fi
    return 0
  }

  if [[ -z ${CMDAI_NO_BIND:-} && ${_cmdai_bind:-1} == 1 ]]; then
    # bash 5.1 keeps an old binding of the key unless it is removed first.
    for _cmdai_map in emacs vi-insert vi-command; do
      builtin bind -m "$_cmdai_map" -r "$_cmdai_key" 2>/dev/null
      builtin bind -m "$_cmdai_map" -x "\"$_cmdai_key\": __cmdai_widget"
    done
    builtin unset _cmdai_map
  fi
fi

builtin eval "builtin unset __cmdai_aliases; builtin $__cmdai_aliases"
