# cmdai zsh integration: type a request, press Ctrl-G, review the command.
# Load with: eval "$(cmdai init zsh)"   (options: --key KEY, --no-bind)
# The widget never runs anything: it only replaces the line you typed.

typeset -g _cmdai_key=${_cmdai_key:-'^G'}

_cmdai_widget() {
  emulate -L zsh
  setopt local_traps no_ksh_arrays no_sh_word_split no_clobber
  local request=$BUFFER
  if [[ -z ${request//[[:space:]]/} ]]; then
    zle -M "cmdai: type what you want first, e.g. 'list files by size'"
    return 0
  fi
  zle -M "cmdai: thinking..."
  zle -R
  local errfile out rc
  errfile=$(command mktemp "${TMPDIR:-/tmp}/cmdai.XXXXXX") || {
    zle -M "cmdai: cannot create a temporary file"
    return 1
  }
  # Ctrl-C stops the helper; this trap keeps zle from discarding the line.
  trap 'command rm -f -- "$errfile"' EXIT
  trap ':' INT
  out=$(command cmdai --widget --shell zsh -- "$request" 2>|"$errfile" </dev/null)
  rc=$?
  local msg
  msg=$(<"$errfile")
  if (( rc == 0 )) && [[ -n $out ]]; then
    BUFFER=$out
    CURSOR=${#BUFFER}
  elif (( rc > 128 )) && [[ -z $msg ]]; then
    msg="cmdai: interrupted"
  elif [[ -z $msg ]]; then
    msg="cmdai: no command (exit $rc)"
  fi
  zle -M -- "${msg:-}"
  zle -R
  return 0
}

zle -N _cmdai_widget

if [[ -z ${CMDAI_NO_BIND:-} && ${_cmdai_bind:-1} == 1 ]]; then
  bindkey -M emacs "$_cmdai_key" _cmdai_widget
  bindkey -M viins "$_cmdai_key" _cmdai_widget
  bindkey -M vicmd "$_cmdai_key" _cmdai_widget
fi
