"""Training for facerec's own embedder: a siamese EfficientNet-Lite0 that maps an aligned 112x112
face (the crops `facerec crops` writes) to a 64-d unit vector.

Stage 1 trains an identity classifier with cross-entropy; stage 2 replaces the classifier with a
64-d L2-normalised embedding layer and fine-tunes with the contrastive (Hadsell 2005) or triplet
(FaceNet 2015, online hard / semi-hard mining) loss; `export` writes ONNX for the Rust embedder.
"""

__version__ = "0.1.0"
