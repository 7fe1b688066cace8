# cmdai zsh integration: type a request, press Ctrl-G, review the command.
# Load with: eval "$(cmdai init zsh)"   (options: --key KEY, --no-bind)
# The widget never runs anything: it only replaces the line you typed.
#
# `cmdai init zsh` prints this file inside `emulate zsh -o no_aliases -c '…'`,
# so it is parsed and runs with zsh's default options whatever the user set
# (ksh_arrays, sh_word_split, nounset, …), and no alias of the user's applies.
# Builtins are called as `builtin NAME` so that functions named like them
# (print, command, trap, …) do not run instead.

typeset -g _cmdai_key=${_cmdai_key:-'^G'}
# What the widget put on the line last, and the call that gave it: Ctrl-G
# on that very text asks the same call for a different command. Shell
# variables only: nothing is written anywhere.
typeset -g _cmdai_last_out='' _cmdai_last_word='' _cmdai_undo_no=0
typeset -ga _cmdai_last_opts
# The last command run at the prompt and its exit status, for a fix on an
# empty line. The shell keeps no output, and nothing is re-run to get it.
typeset -g _cmdai_ran='' _cmdai_failed_cmd='' _cmdai_failed_status=0

_cmdai_preexec() {
  # $1 is the line as typed; empty when history is off, then the expanded one.
  _cmdai_ran=${1:-${3:-}}
  return 0
}

# $? here is the command's status (zsh gives every precmd hook the same, and
# restores it for the prompt). Only a line that ran (preexec saw it) counts:
# Ctrl-C or Enter on an empty line keeps the last record.
_cmdai_precmd() {
  local st=$?
  if [[ -n $_cmdai_ran ]]; then
    _cmdai_failed_status=$st
    _cmdai_failed_cmd=$_cmdai_ran
    _cmdai_ran=''
  fi
  # A new prompt: Ctrl-G on the same text is a new request again.
  _cmdai_last_out=''
  return 0
}

if (( ! ${preexec_functions[(I)_cmdai_preexec]:-0} )); then
  preexec_functions+=(_cmdai_preexec)
fi
if (( ! ${precmd_functions[(I)_cmdai_precmd]:-0} )); then
  precmd_functions+=(_cmdai_precmd)
fi

_cmdai_widget() {
  builtin emulate -L zsh -o no_aliases
  builtin setopt local_traps
  local request=$BUFFER word again=0
  local -a opts args
  if [[ -n $_cmdai_last_out && $BUFFER == "$_cmdai_last_out" ]]; then
    # Pressed again on its own suggestion: another one for the same request.
    again=1
    opts=("${_cmdai_last_opts[@]}")
    word=$_cmdai_last_word
    args=("${opts[@]}" --shell zsh "--next=$BUFFER" -- "$word")
  elif [[ -z ${request//[[:space:]]/} ]]; then
    if (( _cmdai_failed_status == 0 )) || [[ -z ${_cmdai_failed_cmd//[[:space:]]/} ]]; then
      builtin zle -M "cmdai: type what you want first, e.g. 'list files by size'"
      return 0
    fi
    # An empty line right after a failure: propose a corrected command.
    opts=(fix --widget "--status=$_cmdai_failed_status")
    word=$_cmdai_failed_cmd
    args=("${opts[@]}" --shell zsh -- "$word")
  else
    opts=(--widget)
    word=$request
    args=("${opts[@]}" --shell zsh -- "$word")
  fi
  builtin zle -M "cmdai: thinking..."
  builtin zle -R
  # Ctrl-C stops the helper; this trap (undone on return by local_traps)
  # keeps zle from discarding the line.
  builtin trap ':' INT
  # No temporary file: one command substitution brings back the helper's
  # stderr, then a newline, its stdout, a newline, and "STATUS LENGTH" (the
  # length of stdout), which splits the two apart. The subshell ignores
  # SIGINT so that it still reports after Ctrl-C; cmdai handles SIGINT
  # itself (exit 130) even when it inherits it ignored.
  # A failure is caught with `|| rc=$?`: not a failed command for the
  # user's ZERR trap.
  local framed rc=0
  framed=$(
    builtin trap '' INT
    local out rc=0
    {
      out=$(builtin command cmdai "${args[@]}" </dev/null) || rc=$?
    } 2>&1
    builtin print -rn -- $'\n'"$out"$'\n'"$rc ${#out}"
  ) || rc=$?
  local msg=$framed out='' meta=${framed##*$'\n'} len
  if [[ $framed == *$'\n'* && $meta == <->' '<-> ]]; then
    rc=${meta% *}
    len=${meta#* }
    framed=${framed%$'\n'*}
    out=${framed:$(( ${#framed} - len ))}
    msg=${framed:0:$(( ${#framed} - len - 1 ))}
  fi
  while [[ $msg == *$'\n' ]]; do msg=${msg%$'\n'}; done
  if (( rc == 0 )) && [[ -n $out ]]; then
    if (( again )); then
      # Back to the request first, so one undo brings the request back
      # rather than the previous suggestion.
      builtin zle undo $_cmdai_undo_no
    else
      _cmdai_undo_no=$UNDO_CHANGE_NO
    fi
    BUFFER=$out
    CURSOR=${#BUFFER}
    _cmdai_last_out=$out
    _cmdai_last_opts=("${opts[@]}")
    _cmdai_last_word=$word
  elif (( rc > 128 )) && [[ -z $msg ]]; then
    msg="cmdai: interrupted"
  elif [[ -z $msg ]]; then
    msg="cmdai: no command (exit $rc)"
  fi
  builtin zle -M -- "$msg"
  builtin zle -R
  return 0
}

builtin zle -N _cmdai_widget

if [[ -z ${CMDAI_NO_BIND:-} && ${_cmdai_bind:-1} == 1 ]]; then
  builtin bindkey -M emacs "$_cmdai_key" _cmdai_widget
  builtin bindkey -M viins "$_cmdai_key" _cmdai_widget
  builtin bindkey -M vicmd "$_cmdai_key" _cmdai_widget
fi
