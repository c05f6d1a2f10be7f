"""`FusedAdam`: Keras's Adam, each variable's update done by one fused TensorFlow kernel.

Keras 3's `Adam.update_step` writes the update as separate element-wise operations (the
first moment, the second moment, then the variable), and each one reads and writes every
parameter. On a CPU that pass over memory, not arithmetic, is what an optimizer step
costs: for the pix2pix U-Net at 64 px (29M parameters) Keras's update took 81-86 ms on 2
cores and `tf.raw_ops.ResourceApplyAdam` (one kernel reading and writing each array
once) 20-25 ms, 3.5x less (`python benchmarks/optimizer_update.py`), against a whole
training step of about 350 ms (`benchmarks/README.md`).

The update rule is Keras's to the letter (Kingma and Ba's Algorithm 1 with the "epsilon
hat" form Keras and TensorFlow share):

    m <- m + (1 - beta_1) (g - m)
    v <- v + (1 - beta_2) (g^2 - v)
    w <- w - lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)

and the optimizer's variables, configuration and serialization are Adam's, so optimizer
state saved by Keras's Adam (an older checkpoint) loads into it. The fused kernel is used
on the TensorFlow backend for dense gradients outside a `tf.distribute` strategy; anything
else (AMSGrad, sparse gradients, a strategy's scope, another backend) takes Keras's own
`update_step`. `tests/test_optimizers.py` checks that both give the same weights.
"""
import keras


@keras.saving.register_keras_serializable(package="kerasi2i")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` with the same update done by one fused kernel per variable
    on the TensorFlow backend (see the module docstring). Takes Adam's arguments."""

    def update_step(self, gradient, variable, learning_rate):
        if keras.backend.backend() != "tensorflow" or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices) or tf.distribute.has_strategy():
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        return tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(self._momentums[index]), v=_handle(self._velocities[index]),
            beta1_power=tf.pow(beta_1, local_step), beta2_power=tf.pow(beta_2, local_step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype), use_locking=False, use_nesterov=False,
        )


def _handle(variable):
    """The resource handle of a Keras variable (its tf.Variable's) or of a tf.Variable."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return variable.handle
