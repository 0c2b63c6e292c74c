"""Everything about concepts: codecs, segmentation, languages, and the LCM itself."""
