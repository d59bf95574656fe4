"""The `flashsale` command line."""
