"""The LinkedIn crawler: logging in and crawling (`crawler`), reading activity-page markup (`posts`)."""
