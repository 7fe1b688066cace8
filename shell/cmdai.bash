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
  # What the widget put on the line last, and the call that gave it: Ctrl-G
  # on that very text asks the same call for a different command. Shell
  # variables only: nothing is written anywhere.
  __cmdai_last_out='' __cmdai_last_word=''
  __cmdai_last_opts=(--widget)
  # The last command run at the prompt and its exit status, for a fix on an
  # empty line. The shell keeps no output, and nothing is re-run to get it.
  __cmdai_failed_cmd='' __cmdai_failed_status=0 __cmdai_histcmd=${HISTCMD:-}

  # First in PROMPT_COMMAND, where $? is still the command's status (a
  # `bind -x` widget sees whatever PROMPT_COMMAND left, and 130 after Ctrl-C
  # on an empty line). It returns that status, and is called as
  # `__cmdai_precmd && :`, so the user's PROMPT_COMMAND and prompt see the
  # same $? as before, while a nonzero one fires no ERR trap a second time.
  __cmdai_precmd() {
    local st=$?
    # Only a line that made a history entry ran something.
    if [[ ${HISTCMD:-} != "$__cmdai_histcmd" ]]; then
      __cmdai_histcmd=${HISTCMD:-}
      __cmdai_failed_status=$st
      __cmdai_failed_cmd=''
      if ((st != 0)); then
        # -0, not -1: here -1 is the entry before the last.
        __cmdai_failed_cmd=$(\builtin fc -ln -0 2>/dev/null)
        __cmdai_failed_cmd=${__cmdai_failed_cmd#"${__cmdai_failed_cmd%%[![:space:]]*}"}
      fi
    fi
    # A new prompt: Ctrl-G on the same text is a new request again.
    __cmdai_last_out=''
    return "$st"
  }

  # The user's PROMPT_COMMAND stays as it is, string or array, after ours.
  if [[ $(\builtin declare -p PROMPT_COMMAND 2>/dev/null) == 'declare -a'* ]]; then
    if [[ " ${PROMPT_COMMAND[*]} " != *__cmdai_precmd* ]]; then
      PROMPT_COMMAND=('__cmdai_precmd && \builtin :' "${PROMPT_COMMAND[@]}")
    fi
  elif [[ ${PROMPT_COMMAND:-} != *__cmdai_precmd* ]]; then
    # shellcheck disable=SC2128,SC2178 # the string form, as checked above
    PROMPT_COMMAND='__cmdai_precmd && \builtin :'"${PROMPT_COMMAND:+$'\n'$PROMPT_COMMAND}"
  fi

  __cmdai_widget() {
    local request=$READLINE_LINE point=$READLINE_POINT word
    local -a opts args
    if [[ -n $__cmdai_last_out && $request == "$__cmdai_last_out" ]]; then
      # Pressed again on its own suggestion: another one for the same request.
      opts=("${__cmdai_last_opts[@]}")
      word=$__cmdai_last_word
      args=("${opts[@]}" --shell bash "--next=$request" -- "$word")
    elif [[ -z ${request//[[:space:]]/} ]]; then
      if ((__cmdai_failed_status == 0)) || [[ -z ${__cmdai_failed_cmd//[[:space:]]/} ]]; then
        builtin printf '\r\033[K%s\n' "cmdai: type what you want first, e.g. 'list files by size'" >&2
        return 0
      fi
      # An empty line right after a failure: propose a corrected command.
      opts=(fix --widget "--status=$__cmdai_failed_status")
      word=$__cmdai_failed_cmd
      args=("${opts[@]}" --shell bash -- "$word")
    else
      opts=(--widget)
      word=$request
      args=("${opts[@]}" --shell bash -- "$word")
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
        out=$(\builtin command cmdai "${args[@]}" </dev/null) || rc=$?
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
      __cmdai_last_out=$out
      __cmdai_last_opts=("${opts[@]}")
      __cmdai_last_word=$word
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
