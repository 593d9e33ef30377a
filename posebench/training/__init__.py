"""Training the paper's networks (Ruiz et al. 2018, Sections 3.2 and 4; the authors'
``code/train_hopenet.py``, ``train_alexnet.py``, ``train_resnet50_regression.py``, ``datasets.py``).

Modules: :mod:`.bins` (angle bins and decoding), :mod:`.loss` (multi-loss and regression loss),
:mod:`.augment` (loose crop, flip, blur, low-resolution schemes), :mod:`.data` (a torch dataset
over posebench samples), :mod:`.models` (networks, initialisation, optimizer groups, BatchNorm
modes), :mod:`.checkpoint` (atomic, resumable checkpoints), :mod:`.loop` (the training loop,
single process or ``torchrun`` DDP), :mod:`.bench` (training throughput). See ``docs/training.md``.
"""
