"""Audio-visual speech recognition: mouth regions, the LRW lip-reading models, synced capture, word filtering.

roi: mouth crops from YuNet's landmarks (the LRW recipe's 96x96 / 88x88 grey).
network: the LRW TCN visual and audio models in PyTorch (export only).
lrw: the user's checkpoints, the cached ONNX ensemble, OpenCV dnn / onnxruntime runners.
capture: (frame, its 640 audio samples) pairs from a file or FFmpeg devices (PyAV; OpenCV AudioIO where it works).
"""
