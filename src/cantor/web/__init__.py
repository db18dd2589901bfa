"""Cantor Studio: a web page and a JSON API over the same ``cantor`` API as the command line (``cantor serve``)."""
