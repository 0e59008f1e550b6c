from autocomplete.cli import main

main()
