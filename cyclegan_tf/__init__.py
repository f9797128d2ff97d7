"""cyclegan_tf: unpaired image-to-image translation with CycleGAN in TensorFlow 2 and Keras 3."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) hides our own output;
# a user who wants it sets TF_CPP_MIN_LOG_LEVEL themselves.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
