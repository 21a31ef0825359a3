"""Handing over the chosen model: files that load without running code (:mod:`.safe`), their
ONNX copies checked for parity (:mod:`.onnx_format`, with :mod:`.onnx_converters` for nnvsml's
own steps), the served model and its input schema (:mod:`.model`), new data of each modality
read as training read it (:mod:`.inputs`) and taken from request bodies (:mod:`.requests`),
export with a model card (:mod:`.export`), batch predictions (:mod:`.predict`), a
token-protected HTTP service (:mod:`.service`), and the fresh process that times serving
(:mod:`.probe`, run by the deployability analysis)."""
