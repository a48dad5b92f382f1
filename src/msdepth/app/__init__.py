"""The local web app (`msdepth app`): drop a photo, see metric depth, turn the point cloud,
download what `msdepth predict` writes.

Modules: `uploads` (what is accepted, decoded as `predict` decodes files), `examples` (built-in
synthetic rooms), `points` (known depths for ``--align``, read as `predict` reads them), `jobs`
(one model, one worker, a FIFO queue), `results` (one prediction's files, written by
`msdepth.inference.outputs.write_outputs`), `videos` (the video tab: a clip's depth video by
`predict`'s `predict_video`; needs the ``[video]`` extra), `model_card`, `server` (Starlette
routes; needs the ``[app]`` extra), and ``static/`` (the page, its script and 3D viewer: no
file comes from the internet).
"""
