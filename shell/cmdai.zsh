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

_cmdai_widget() {
  builtin emulate -L zsh -o no_aliases
  builtin setopt local_traps
  local request=$BUFFER
  if [[ -z ${request//[[:space:]]/} ]]; then
    builtin zle -M "cmdai: type what you want first, e.g. 'list files by size'"
    return 0
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
      out=$(builtin command cmdai --widget --shell zsh -- "$request" </dev/null) || rc=$?
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
    BUFFER=$out
    CURSOR=${#BUFFER}
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
