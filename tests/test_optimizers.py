"""FusedAdam (kerasi2i.training.optimizers) takes exactly Keras's Adam step, with Adam's
variables, configuration and serialization, and is what every trainer gets by default."""
import numpy as np
import pytest
import tensorflow as tf

import keras
from kerasi2i.models.base import default_optimizer
from kerasi2i.models.pix2pix import build_pix2pix
from kerasi2i.training.optimizers import FusedAdam


def tiny_net(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2DTranspose(3, 3, padding="same")(x)
    return keras.Model(inputs, x)


def train_weights(make_optimizer, steps=6, seed=0, strategy=None):
    """The weights of a tiny network after `steps` updates of `make_optimizer()` on fixed
    data, in `strategy`'s scope and replica context when one is given."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        net = tiny_net(seed)
        optimizer = make_optimizer()
        optimizer.build(net.trainable_variables)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.uniform(-1, 1, (2, 8, 8, 3)), tf.float32)
    y = tf.constant(rng.uniform(-1, 1, (2, 8, 8, 3)), tf.float32)

    def replica_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(net(x) - y))
            scaled = optimizer.scale_loss(loss) if hasattr(optimizer, "scale_loss") else loss
        optimizer.apply_gradients(zip(tape.gradient(scaled, net.trainable_variables), net.trainable_variables))
        return loss

    @tf.function
    def step():
        return strategy.reduce("MEAN", strategy.run(replica_step), axis=None)

    losses = [float(step()) for _ in range(steps)]
    return [w.numpy() for w in net.weights], losses


@pytest.mark.parametrize("options", [
    dict(learning_rate=2e-4, beta_1=0.5, beta_2=0.999),                       # the papers'
    dict(learning_rate=1e-2, beta_1=0.9, beta_2=0.99, epsilon=1e-4),          # large steps: any slip shows
    dict(learning_rate=keras.optimizers.schedules.ExponentialDecay(1e-2, 2, 0.5), beta_1=0.5),
    dict(learning_rate=1e-2, amsgrad=True),                                   # Keras's own path
    dict(learning_rate=1e-2, weight_decay=0.1),
])
def test_same_update_as_keras_adam(options):
    ours, our_losses = train_weights(lambda: FusedAdam(**options))
    reference, ref_losses = train_weights(lambda: keras.optimizers.Adam(**options))
    np.testing.assert_allclose(our_losses, ref_losses, rtol=1e-5, atol=1e-7)
    for a, b in zip(ours, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours[0], tiny_net(0).weights[0].numpy())  # the weights did move


def test_same_update_under_a_strategy_and_loss_scaling():
    """Under a tf.distribute strategy FusedAdam takes Keras's own update; wrapped for
    mixed-precision loss scaling it still steps like Adam."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    ours, _ = train_weights(lambda: FusedAdam(1e-2), strategy=strategy)
    reference, _ = train_weights(lambda: keras.optimizers.Adam(1e-2))
    for a, b in zip(ours, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    scaled, _ = train_weights(lambda: keras.optimizers.LossScaleOptimizer(FusedAdam(1e-2)))
    for a, b in zip(scaled, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_serializes_as_adam_with_the_same_variables():
    optimizer = FusedAdam(learning_rate=2e-4, beta_1=0.5)
    config = keras.optimizers.serialize(optimizer)
    again = keras.optimizers.deserialize(config)
    assert type(again) is FusedAdam
    assert again.get_config() == optimizer.get_config()
    assert {k: v for k, v in again.get_config().items() if k != "name"} == \
        {k: v for k, v in keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5).get_config().items() if k != "name"}
    # the same slots as Adam: a checkpoint of one loads into the other
    net = tiny_net()
    adam, fused = keras.optimizers.Adam(), FusedAdam()
    adam.build(net.trainable_variables)
    fused.build(net.trainable_variables)
    assert [v.shape for v in adam.variables] == [v.shape for v in fused.variables]
    for a, f in zip(adam.variables, fused.variables):
        assert a.path.split("/")[-1] == f.path.split("/")[-1]
    # optimizer state saved by Keras's Adam (an older checkpoint) loads into FusedAdam
    for v in adam.variables:
        v.assign(np.full(v.shape, 7) if "int" in str(v.dtype) else np.random.default_rng(0).uniform(0, 1, v.shape))
    store = {}
    adam.save_own_variables(store)
    fused.load_own_variables(store)
    for a, f in zip(adam.variables, fused.variables):
        np.testing.assert_array_equal(a.numpy(), f.numpy())


def test_every_trainer_gets_it_by_default():
    assert isinstance(default_optimizer(), FusedAdam)
    model = build_pix2pix(32, base_filters=4)
    model.compile()
    assert isinstance(model.g_optimizer, FusedAdam) and isinstance(model.d_optimizer, FusedAdam)
    assert isinstance(model.g_optimizer, keras.optimizers.Adam)
    assert (model.g_optimizer.beta_1, model.g_optimizer.beta_2) == (0.5, 0.999)


def test_the_fused_kernel_is_what_runs():
    """Not a silent fallback: one ResourceApplyAdam per variable in the traced update, and
    none in Keras's Adam."""
    def apply_ops(optimizer):
        net = tiny_net()
        optimizer.build(net.trainable_variables)
        grads = [tf.ones_like(v) for v in net.trainable_variables]
        fn = tf.function(lambda: optimizer.apply_gradients(zip(grads, net.trainable_variables)))
        graph = fn.get_concrete_function().graph
        ops = [op.type for op in graph.get_operations()]
        for f in graph._functions.values():  # the update may live in nested functions
            ops += [node.op for node in f.definition.node_def]
        return ops.count("ResourceApplyAdam"), len(net.trainable_variables)

    count, n_vars = apply_ops(FusedAdam(1e-3))
    assert count == n_vars
    assert apply_ops(keras.optimizers.Adam(1e-3))[0] == 0
