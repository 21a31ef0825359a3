"""Handing over the chosen model: files that load without running code (:mod:`.safe`), the
input schema a new table must match (:mod:`.schema`), export with a model card
(:mod:`.export`), batch predictions (:mod:`.predict`) and a token-protected HTTP service
(:mod:`.service`)."""
