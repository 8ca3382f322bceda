"""Chart images: which attachments are accepted, their downloads, the archive that keeps
their bytes, and the stores (a directory or an S3-compatible bucket)."""
