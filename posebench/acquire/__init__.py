"""Getting data and weights: the catalogue of sources, resumable verified downloads, safe archive
extraction, folder layouts, installation into the data root and structural verification."""
