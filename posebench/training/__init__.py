"""Training the paper's networks (Ruiz et al. 2018, Sections 3.2 and 4; the authors'
``code/train_hopenet.py``, ``train_alexnet.py``, ``train_resnet50_regression.py``, ``datasets.py``).

Modules: :mod:`.bins` (angle bins and decoding), :mod:`.loss` (multi-loss and regression loss),
:mod:`.augment` (loose crop, flip, blur, low-resolution schemes), :mod:`.data` (a torch dataset
over posebench samples), :mod:`.models` (what the families share: BatchNorm modes, optimizer
groups, loading ``--init``), :mod:`.spec` (a model family's :class:`~.spec.TrainSpec` and the
registry; :mod:`.spec_hopenet`, :mod:`.spec_whenet`), :mod:`.checkpoint` (atomic, resumable
checkpoints), :mod:`.loop` (the training loop over a spec, single process or ``torchrun`` DDP),
:mod:`.bench` (training throughput). See ``docs/training.md``.
"""
