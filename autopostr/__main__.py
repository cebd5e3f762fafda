from autopostr.cli import main

main()
