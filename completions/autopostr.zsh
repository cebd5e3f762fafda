#compdef autopostr

_autopostr_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _AUTOPOSTR_COMPLETE=complete_zsh autopostr)
}

compdef _autopostr_completion autopostr
