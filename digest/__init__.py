"""Digests: what a product manager reads every morning.

``build`` turns stored rows into ``DigestData`` (pure: no database, network or clock); ``phrases`` writes its
sentences; ``render`` (Markdown) and ``html`` (e-mail-safe HTML) show it, with ``charts``; ``spikes`` finds days
that stand out; ``deliver`` writes the archive and sends to Slack and e-mail; ``alerts`` sends spikes on their own.
See docs/DIGEST.md.
"""
