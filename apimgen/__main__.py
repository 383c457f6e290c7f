"""``python -m apimgen`` runs the CLI."""

from apimgen.cli.app import main

if __name__ == "__main__":
    main()
