"""Public HTML pages: the channel list, a channel's stories, a story's permanent page."""
