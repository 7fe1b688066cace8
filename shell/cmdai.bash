# cmdai bash integration: type a request, press Ctrl-G, review the command.
# Load with: eval "$(cmdai init bash)"   (options: --key KEY, --no-bind)
# The widget never runs anything: it only replaces the line you typed.
# shellcheck shell=bash

if ((BASH_VERSINFO[0] < 4)); then
  printf 'cmdai: the Ctrl-G widget needs bash 4 or newer (this is bash %s); run cmdai "request" instead\n' "$BASH_VERSION" >&2
else
  _cmdai_key=${_cmdai_key:-'\C-g'}

  __cmdai_widget() {
    local request=$READLINE_LINE point=$READLINE_POINT
    if [[ -z ${request//[[:space:]]/} ]]; then
      printf '%s\n' "cmdai: type what you want first, e.g. 'list files by size'" >&2
      return 0
    fi
    printf '%s' "cmdai: thinking..." >&2
    local errfile out rc msg old_int
    errfile=$(command mktemp "${TMPDIR:-/tmp}/cmdai.XXXXXX") || return 0
    old_int=$(trap -p INT)
    # Ctrl-C must stop the helper but not reach readline, which would drop
    # the line. So bash ignores SIGINT for the call; cmdai, inheriting that,
    # installs its own handler and exits with 130.
    trap '' INT
    out=$(command cmdai --widget --shell bash -- "$request" 2>|"$errfile" </dev/null)
    rc=$?
    if [[ -n $old_int ]]; then eval "$old_int"; else trap - INT; fi
    # Read and delete in one command substitution: a plain `rm` here would
    # be a job-controlled foreground process, and after one bash 5.2 leaves
    # readline treating the next space typed as Enter.
    msg=$(command cat -- "$errfile"; command rm -f -- "$errfile")
    # Keys typed while waiting (an early Enter) must not run the suggestion.
    local _junk
    while IFS= read -r -s -n 1 -t 0.01 _junk; do :; done
    printf '\r\033[K' >&2
    if ((rc == 0)) && [[ -n $out ]]; then
      READLINE_LINE=$out
      # READLINE_POINT counts bytes.
      READLINE_POINT=$(LC_ALL=C; printf '%s' "${#out}")
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
      printf '%s\n' "$msg" >&2
    fi
    return 0
  }

  if [[ -z ${CMDAI_NO_BIND:-} && ${_cmdai_bind:-1} == 1 ]]; then
    # bash 5.1 keeps an old binding of the key unless it is removed first.
    for _cmdai_map in emacs vi-insert vi-command; do
      bind -m "$_cmdai_map" -r "$_cmdai_key" 2>/dev/null
      bind -m "$_cmdai_map" -x "\"$_cmdai_key\": __cmdai_widget"
    done
    unset _cmdai_map
  fi
fi
