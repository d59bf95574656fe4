"""`python -m app.cli` is the `flashsale` command."""

from app.cli.main import main

main()
