"""A gokart pipeline, unchanged but for its two import lines (was: ``import gokart`` and
``import luigi``). ``run.py`` builds it on tasuki, then upgrades it to typed tasks."""

import tasuki.compat.gokart as gokart
import tasuki.compat.luigi as luigi


class LoadWine(gokart.TaskOnKart):
    """The wine data that ships inside scikit-learn's wheel, as a data frame."""

    def output(self):
        return self.make_target("wine/raw.pkl")

    def run(self):
        from sklearn.datasets import load_wine

        self.dump(load_wine(as_frame=True).frame)


class SplitWine(gokart.TaskOnKart):
    """Hold out a share of the rows for testing."""

    data = gokart.TaskInstanceParameter()
    test_ratio = luigi.FloatParameter(default=0.25, description="share of rows held out")

    def output(self):
        return {
            "train": self.make_target("wine/train.pkl"),
            "test": self.make_target("wine/test.pkl"),
        }

    def run(self):
        frame = self.load_data_frame("data", required_columns={"target"})
        test = frame.sample(frac=self.test_ratio, random_state=0)
        self.dump(frame.drop(test.index), "train")
        self.dump(test, "test")


class TrainModel(gokart.TaskOnKart):
    """A decision tree on the training rows."""

    split = gokart.TaskInstanceParameter()
    max_depth = luigi.IntParameter(default=3)
    n_jobs = luigi.IntParameter(default=1, significant=False)  # does not change the result

    def requires(self):
        return {"split": self.split}

    def run(self):
        from sklearn.tree import DecisionTreeClassifier

        train = self.load("split")["train"]
        model = DecisionTreeClassifier(max_depth=self.max_depth, random_state=0)
        self.dump(model.fit(train.drop(columns="target"), train["target"]))


class Report(gokart.TaskOnKart):
    """The model's accuracy on the held-out rows."""

    max_depth = luigi.IntParameter(default=3)
    test_ratio = luigi.FloatParameter(default=0.25)

    def requires(self):
        split = SplitWine(data=LoadWine(), test_ratio=self.test_ratio)
        return {"model": TrainModel(split=split, max_depth=self.max_depth), "split": split}

    def run(self):
        model = self.load("model")
        test = self.load("split")["test"]
        accuracy = float((model.predict(test.drop(columns="target")) == test["target"]).mean())
        self.task_log["accuracy"] = accuracy
        self.dump(f"accuracy {accuracy:.3f} with max_depth={self.max_depth}")
