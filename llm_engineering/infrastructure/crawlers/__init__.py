"""Crawlers that turn one link (a web page, a repository, an export) into warehouse documents."""
