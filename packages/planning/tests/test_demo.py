from recur_planning.demo import run_grnet_demo, run_pvrnn_demo


def test_grnet_demo_scores_every_recognizer():
    scores = run_grnet_demo(train_goals=40, epochs=1)
    for key in ("test/acc", "test/acc_random", "test/acc_landmark"):
        assert 0 <= scores[key] <= 1
    assert scores["test/seconds_per_problem"] > 0


def test_pvrnn_demo_scores_the_model_beside_repeat_last():
    scores = run_pvrnn_demo(steps=2, iterations=2)
    assert scores["test/pred_mse"] > 0 and scores["test/pred_mse_repeat_last"] > 0
