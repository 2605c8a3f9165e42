# Reading audio files: tags, decoding, fingerprints. The tag test writes multi-value and MP4
# freeform tags with TagLib directly (ffmpeg's CLI cannot), so it links TagLib itself.
earshot_test(test_tags SOURCES unit/test_tags.cpp LIBS earshot_media PkgConfig::taglib LABELS unit)
earshot_test(test_fingerprint SOURCES unit/test_fingerprint.cpp LIBS earshot_media LABELS unit)
