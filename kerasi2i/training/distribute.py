"""Training on several devices with ``tf.distribute``.

    strategy = get_strategy("mirrored")        # all local GPUs (or the CPU)
    with strategy.scope():                      # variables (and optimizer slots) are mirrored
        model = build_pix2pix(256)
        model.compile()
    model.fit(train, epochs=200)                # the batch of `train` is the GLOBAL batch

``kerasi2i train pix2pix ... --strategy mirrored`` does the same (``train_pix2pix(...,
strategy="mirrored")``).

What happens, and what the training models do about it:

- **Data.** ``fit`` splits every batch of the dataset across the N replicas (a global
  batch of 8 on 4 GPUs gives each 2); Keras does it because the model was built and
  compiled under ``strategy.scope()``. ``train_pix2pix`` drops the last, partial batch
  of an epoch when N > 1, so that every replica always gets an equal, non-empty share.
- **Losses.** ``Pix2Pix.train_step`` runs on every replica with that replica's share and
  its losses are means over it. ``optimizer.apply_gradients`` then *sums* the gradients
  of the replicas (an all-reduce), so each replica's loss is multiplied by 1/N
  (:func:`scale_loss_for_replicas`) before its gradients are taken: the sum of the
  replicas' gradients is then the gradient of the mean loss over the global batch, the
  same as one device with the whole batch. The reported losses are the unscaled means
  (Keras averages the replicas' metric states). On one device nothing changes.
- **Batch norm.** ``keras.layers.BatchNormalization`` normalises with the statistics of
  each replica's share, not of the global batch, and each replica updates the moving
  averages from its own share's statistics. With N replicas the model
  therefore trains as with batch norm on batches of global/N. That is often fine, but
  with small per-replica batches (pix2pix uses 1) use ``synchronized=True``
  (:func:`synchronize_batch_norm`, one all-reduce per batch-norm layer and step) or
  ``norm="instance"``, which is per image and so unaffected. Dropout draws its masks
  independently per replica.
- **Other strategies.** The same code path serves ``MultiWorkerMirroredStrategy``
  (several machines, ``TF_CONFIG`` set on each; ``get_strategy("multi-worker")``) and
  ``TPUStrategy`` (``get_strategy("tpu")``): neither the model nor the loop changes. On
  TPUs every shape must be static: give a global batch that is a multiple of the cores
  (8 per v3-8 host), keep ``drop_remainder`` on and compile with ``jit_compile`` (XLA is
  always on there).

The equivalence of N replicas and one device is tested on two logical CPU devices
(``tests/test_distribute.py``, :func:`set_logical_cpus`).
"""
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi-worker", "tpu")
_MIRRORED = {}  # one MirroredStrategy per device set and process (see get_strategy)


def get_strategy(strategy="default", devices=None):
    """A ``tf.distribute.Strategy`` by name, or ``strategy`` itself if it is one.

    - ``"default"`` or ``None``: the default strategy (one device, what Keras uses anyway);
    - ``"mirrored"``: ``MirroredStrategy(devices)``, by default all local GPUs or, with
      none, all logical CPU devices (one, unless split by :func:`set_logical_cpus`);
    - ``"multi-worker"``: ``MultiWorkerMirroredStrategy()``, configured by ``TF_CONFIG``;
    - ``"tpu"``: ``TPUStrategy`` on the local TPU (a Cloud TPU VM); not tested here.

    ``"mirrored"`` returns the same strategy object for the same devices within a process:
    training under a second ``MirroredStrategy`` of the same devices after a first one has
    run can abort with "Shape mismatch in the collective instance" (TF 2.21, seen on CPUs).
    """
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy is None or strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "mirrored":
        if devices is None and not tf.config.list_logical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        key = None if devices is None else tuple(devices)
        if key not in _MIRRORED:
            _MIRRORED[key] = tf.distribute.MirroredStrategy(devices)
        return _MIRRORED[key]
    if strategy == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if strategy == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"strategy must be one of {STRATEGIES} or a tf.distribute.Strategy, got {strategy!r}.")


def num_replicas():
    """Replicas in sync of the current strategy (1 outside any strategy)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def scale_loss_for_replicas(loss):
    """``loss / num_replicas`` inside a distributed ``train_step``; ``loss`` itself on one
    device. For losses that are means over the replica's share of the batch, whose
    gradients the optimizer sums over the replicas."""
    n = num_replicas()
    return loss if n == 1 else loss * (1.0 / n)


def set_logical_cpus(n):
    """Split the CPU into ``n`` logical devices (``/cpu:0`` ... ``/cpu:{n-1}``), to try
    multi-device code without GPUs. Must run before TensorFlow has created any device
    (before the first op): in a fresh process, first thing."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as err:
        raise RuntimeError(
            "set_logical_cpus must be called before TensorFlow creates its devices (first thing in a "
            f"fresh process): {err}"
        ) from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def synchronize_batch_norm(model):
    """A copy of ``model`` (a functional or sequential model) in which every
    ``BatchNormalization`` has ``synchronized=True``: under a multi-replica strategy its
    statistics are those of the global batch. Same weights, same outputs on one device.
    Call it inside ``strategy.scope()``, before compiling."""
    import keras

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
