"""Digests: ``build`` turns stored rows into ``DigestData`` (pure); ``render`` turns that into Markdown/HTML."""
