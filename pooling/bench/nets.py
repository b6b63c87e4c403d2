"""ResNet-18 and VGG-11 with batch norm in plain ``torch.nn``, for the
benchmark's models section and the tests of ``pooling.layers.torch.convert``.

torchvision's CPU wheels cannot be installed beside the CPU torch wheel here,
so the two networks are built from their definitions in torchvision
(github.com/pytorch/vision, ``torchvision/models/resnet.py`` at f50e776b and
``torchvision/models/vgg.py`` at 02196ff4): the same layers, in the same
order, with the same names (``state_dict`` keys), the same shapes and the
same initialisation.  Modules are created and initialised in torchvision's
order, so that the same ``torch.manual_seed`` gives the same weights.

This module imports torch; ``python -m pooling.bench`` imports it only when
it measures the models section, so the benchmark runs without torch.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

__all__ = ["resnet18", "vgg11_bn"]


def _conv_init(m):
    # torchvision's: He initialisation of the fan-out, as for ReLU networks.
    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to the input (or to its
    1x1 projection when the block changes the shape)."""

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision's ``ResNet`` with ``BasicBlock``s, without its options
    (groups, width, dilation, zero-initialised residuals)."""

    def __init__(self, layers=(2, 2, 2, 2), num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._stage(64, layers[0], 1)
        self.layer2 = self._stage(128, layers[1], 2)
        self.layer3 = self._stage(256, layers[2], 2)
        self.layer4 = self._stage(512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _conv_init(m)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _stage(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            # created before the block's own layers, as in torchvision
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        out = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        out += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*out)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes=1000):
    """ResNet-18 (He et al. 2015) as torchvision's ``resnet18()``: a 7x7/2
    convolution, batch norm, ReLU, ``MaxPool2d(3, 2, 1)``, four stages of two
    basic blocks (64, 128, 256, 512 channels; the later three halve the size
    and project the shortcut with a 1x1/2 convolution and batch norm),
    ``AdaptiveAvgPool2d((1, 1))``, flatten and a linear layer.  Convolutions
    are initialised with ``kaiming_normal_(mode="fan_out")``, batch norm with
    weight 1 and bias 0, the linear layer as ``nn.Linear`` does."""
    return ResNet((2, 2, 2, 2), num_classes)


# VGG configuration "A" (11 weight layers): output channels of each 3x3
# convolution, "M" for a 2x2/2 max pooling.
CFG_A = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def vgg11_bn(num_classes=1000, hidden=4096):
    """VGG-11 with batch norm (Simonyan and Zisserman 2014, configuration
    "A") as torchvision's ``vgg11_bn()``: ``features`` (3x3 convolutions with
    padding 1, each followed by batch norm and ReLU, and
    ``MaxPool2d(kernel_size=2, stride=2)`` at each "M" of ``CFG_A``),
    ``avgpool`` (``AdaptiveAvgPool2d((7, 7))``), flatten, and ``classifier``
    (Linear 25088 -> 4096, ReLU, Dropout, Linear 4096 -> 4096, ReLU, Dropout,
    Linear 4096 -> num_classes; ``hidden`` other than 4096 narrows the two
    hidden layers, for the benchmark's --quick, where the 25088 x 4096
    layer would cost more than everything else).  Convolutions are initialised with
    ``kaiming_normal_(mode="fan_out")`` and bias 0, batch norm with weight 1
    and bias 0, linear layers with ``normal_(0, 0.01)`` and bias 0.

    An ``nn.Sequential`` with torchvision's attribute names: ``features``,
    ``avgpool`` and ``classifier`` are its children, so the ``state_dict``
    keys are torchvision's; ``flatten`` has no parameters."""
    layers = []
    channels = 3
    for v in CFG_A:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.BatchNorm2d(v),
                       nn.ReLU(inplace=True)]
            channels = v
    model = nn.Sequential(OrderedDict(
        features=nn.Sequential(*layers),
        avgpool=nn.AdaptiveAvgPool2d((7, 7)),
        flatten=nn.Flatten(1),
        classifier=nn.Sequential(
            nn.Linear(512 * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=0.5),
            nn.Linear(hidden, num_classes))))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            _conv_init(m)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)
    return model
