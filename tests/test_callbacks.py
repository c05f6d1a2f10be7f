"""LinearDecaySchedule against the reference's LR policy, stepped in the reference's call orders."""
import numpy as np
import pytest

from kerasi2i.training.callbacks import LinearDecaySchedule


def reference_rates(lr, n_epochs, n_epochs_decay, update_at):
    """The rate of each epoch in junyanz/pytorch-CycleGAN-and-pix2pix: `LambdaLR` with
    `lambda_rule(epoch) = 1 - max(0, epoch + epoch_count - n_epochs) / (n_epochs_decay + 1)`
    (epoch_count = 1), whose constructor takes one step (last_epoch -1 -> 0), and
    `scheduler.step()` called once per epoch of `for epoch in range(1, n_epochs + n_epochs_decay + 1)`,
    at its start (current train.py) or at its end (train.py before 2020)."""
    def lambda_rule(epoch):
        return 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1)

    last_epoch = 0  # after the constructor's step
    rates = []
    for _ in range(1, n_epochs + n_epochs_decay + 1):
        if update_at == "epoch_start":
            last_epoch += 1
        rates.append(lr * lambda_rule(last_epoch))
        if update_at == "epoch_end":
            last_epoch += 1
    return rates


@pytest.mark.parametrize("update_at", ["epoch_end", "epoch_start"])
@pytest.mark.parametrize("n_epochs, n_epochs_decay", [(3, 4), (100, 100), (0, 5), (4, 0)])
def test_schedule_follows_the_reference_call_order(update_at, n_epochs, n_epochs_decay):
    steps = 3
    s = LinearDecaySchedule(2e-4, steps, n_epochs, n_epochs_decay, update_at=update_at)
    got = [[float(s(e * steps + i)) for i in range(steps)] for e in range(n_epochs + n_epochs_decay)]
    expected = reference_rates(2e-4, n_epochs, n_epochs_decay, update_at)
    np.testing.assert_allclose(np.array(got), np.repeat(np.array(expected)[:, None], steps, axis=1),
                               rtol=1e-5, atol=1e-12)


def test_the_two_orders_differ_as_documented():
    end = LinearDecaySchedule(2e-4, 1, 100, 100)
    start = LinearDecaySchedule(2e-4, 1, 100, 100, update_at="epoch_start")
    assert end.update_at == "epoch_end"            # the default
    # epoch_end: 100 epochs at 2e-4, never 0; epoch_start: decays in epoch 100 (index 99), ends at 0.
    assert float(end(99)) == pytest.approx(2e-4) and float(end(199)) == pytest.approx(2e-4 / 101)
    assert float(start(98)) == pytest.approx(2e-4) and float(start(99)) == pytest.approx(2e-4 * 100 / 101)
    assert float(start(199)) == 0.0
    restored = LinearDecaySchedule.from_config(start.get_config())
    assert restored.update_at == "epoch_start" and float(restored(150)) == pytest.approx(float(start(150)))
    with pytest.raises(ValueError, match="update_at"):
        LinearDecaySchedule(update_at="start")


@pytest.mark.slow
def test_schedule_matches_torch_lambda_lr():
    """The real torch.optim.lr_scheduler.LambdaLR with the reference's lambda, stepped at
    the start of every epoch as current upstream train.py does (skipped without torch)."""
    torch = pytest.importorskip("torch")
    n_epochs, n_epochs_decay = 3, 4
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    rule = lambda epoch: 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1)  # noqa: E731
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=rule)
    rates = []
    for _ in range(n_epochs + n_epochs_decay):
        opt.step()          # keeps torch's order warning quiet; does not change the rates
        scheduler.step()    # model.update_learning_rate() at the start of the epoch
        rates.append(opt.param_groups[0]["lr"])
    s = LinearDecaySchedule(2e-4, 1, n_epochs, n_epochs_decay, update_at="epoch_start")
    np.testing.assert_allclose([float(s(e)) for e in range(len(rates))], rates, rtol=1e-5, atol=1e-12)
