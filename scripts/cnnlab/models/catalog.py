"""What cnnlab declares about each architecture before building it: the family file that
builds it, the input shape it takes, its parameter count (from the source article where it
gives one), and the layer kinds that decide which analyses apply.

Plain data, so that Snakemake's parse step and the config checks read it without importing
torch. The tests build every model and check each declared fact against the built network.
"""

from __future__ import annotations

from dataclasses import dataclass

InputShape = tuple[int, int, int]
MNIST_SHAPE: InputShape = (1, 28, 28)
CIFAR_SHAPE: InputShape = (3, 32, 32)


@dataclass(frozen=True)
class ModelSpec:
    """The declared facts of one architecture."""

    name: str
    family: str  # the module of cnnlab.models that builds it
    input_shape: InputShape
    num_params: int
    description: str
    is_convolutional: bool = True
    has_relu: bool = True
    has_skip: bool = False  # residual connections: a block's input added to its output
    has_batch_norm: bool = False


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in [
    ModelSpec("logreg", "linear", MNIST_SHAPE, 7_850,
              "Logistic regression: one linear layer from the 784 pixels to 10 scores.",
              is_convolutional=False, has_relu=False),
    ModelSpec("mlp", "linear", MNIST_SHAPE, 535_818,
              "MLP 784-512-256-10 with ReLU and dropout 0.5 (cnn-theory-and-mnist).",
              is_convolutional=False),
    ModelSpec("digitcnn", "digitcnn", MNIST_SHAPE, 206_922,
              "DigitCNN: two conv3x3+pool blocks (16, 32 channels), FC 128, dropout 0.25."),
    ModelSpec("digitcnn_gap", "digitcnn", MNIST_SHAPE, 5_130,
              "DigitCNN trunk with global average pooling instead of flatten + FC1."),
    ModelSpec("simplecnn_bn", "simplecnn", MNIST_SHAPE, 421_834,
              "SimpleCNN: [Conv-BN-ReLU-Pool] x2 (32, 64 channels), FC 128, dropout 0.5.",
              has_batch_norm=True),
    ModelSpec("lenet5", "lenet", MNIST_SHAPE, 61_706,
              "LeNet-5 (1998) on 28x28: tanh, average pooling, 6/16 channels, FC 120-84.",
              has_relu=False),
    ModelSpec("resnet_small", "resnet", MNIST_SHAPE, 78_090,
              "Small ResNet: stem 16, residual blocks 16/32/64 (strides 1/2/2), GAP, FC.",
              has_skip=True, has_batch_norm=True),
    ModelSpec("cifar_simplecnn", "cifar", CIFAR_SHAPE, 620_810,
              "CIFAR SimpleCNN: [Conv-BN-ReLU-Pool] x3 (32, 64, 128), FC 256, dropout 0.5.",
              has_batch_norm=True),
    ModelSpec("cifar_vgg", "cifar", CIFAR_SHAPE, 3_249_994,
              "CIFAR10CNN (VGG-style): 2x conv per block, 64/128/256 channels, FC 512.",
              has_batch_norm=True),
]}
