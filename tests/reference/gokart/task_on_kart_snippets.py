# Source: gokart v1.12.2, docs/task_on_kart.rst: the method bodies of "TaskOnKart.load",
# "TaskOnKart.dump", "TaskOnKart.load_generator" and "TaskOnKart.make_model_target". The doc
# gives them as fragments; the lines marked `# scaffold` make each a task (class line, the
# tasks it loads, a final dump, the helpers it calls). gensim is not installed in the peer
# environment: `gensim.model.Word2Vec` below is a stand-in with gensim's save/load signatures
# (`model.save(fname)`, `Word2Vec.load(fname)`), so the doc's output() runs as written.
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
import json  # scaffold
import types  # scaffold

from tests.reference.gokart._imports import gokart, luigi


class TaskA(gokart.TaskOnKart[str]):  # scaffold
    param = luigi.Parameter(default='a')  # scaffold

    def run(self):  # scaffold
        self.dump(f'A({self.param})')  # scaffold


class TaskB(gokart.TaskOnKart[str]):  # scaffold
    def run(self):  # scaffold
        self.dump('B')  # scaffold


# TaskOnKart.load: a dict of requirements
class LoadDict(gokart.TaskOnKart):  # scaffold
    def requires(self):
        return dict(a=TaskA(), b=TaskB())

    def run(self):
        data = self.load() # returns dict(a=self.load('a'), b=self.load('b'))
        self.dump(data)  # scaffold


class LoadByName(gokart.TaskOnKart):  # scaffold
    def requires(self):  # scaffold
        return dict(a=TaskA(), b=TaskB())  # scaffold

    def run(self):
        data_a = self.load('a')
        data_b = self.load('b')
        self.dump([data_a, data_b])  # scaffold


class LoadByInstance(gokart.TaskOnKart):  # scaffold
    def requires(self):  # scaffold
        return dict(a=TaskA(), b=TaskB())  # scaffold

    def run(self):
        data_a = self.load(TaskA())
        data_b = self.load(TaskB())
        self.dump([data_a, data_b])  # scaffold


# TaskOnKart.dump: two outputs
def do_something_a(x):  # scaffold
    return f'a of {x}'  # scaffold


def do_something_b(x):  # scaffold
    return f'b of {x}'  # scaffold


class DumpTwo(gokart.TaskOnKart):  # scaffold
    def requires(self):  # scaffold
        return TaskB()  # scaffold

    def output(self):
        return dict(a=self.make_target('output_a.pkl'), b=self.make_target('output_b.pkl'))

    def run(self):
        a_data = do_something_a(self.load())
        b_data = do_something_b(self.load())
        self.dump(a_data, 'a')
        self.dump(b_data, 'b')


# TaskOnKart.load_generator
class LoadGenerator(gokart.TaskOnKart):  # scaffold
    def requires(self):
        return TaskA(param='called by TaskB')

    def run(self):
        seen = []  # scaffold
        any_process = seen.append  # scaffold
        for data in self.load_generator():
            any_process(data)
        self.dump(seen)  # scaffold


# TaskOnKart.make_model_target
class Word2Vec:  # scaffold: gensim's save/load signatures
    def __init__(self, vectors):  # scaffold
        self.vectors = vectors  # scaffold

    def save(self, fname):  # scaffold
        with open(fname, 'w') as f:  # scaffold
            json.dump(self.vectors, f)  # scaffold

    @classmethod  # scaffold
    def load(cls, fname):  # scaffold
        with open(fname) as f:  # scaffold
            return cls(json.load(f))  # scaffold


gensim = types.SimpleNamespace(model=types.SimpleNamespace(Word2Vec=Word2Vec))  # scaffold
Word2VecResult = Word2Vec  # scaffold


def train_word2vec():  # scaffold
    return Word2Vec({'king': [0.5, 0.25], 'queen': [0.5, -0.25]})  # scaffold


class TrainWord2Vec(gokart.TaskOnKart[Word2VecResult]):
    def output(self):
        # please use 'zip'.
        return self.make_model_target(
            'model.zip',
            save_function=gensim.model.Word2Vec.save,
            load_function=gensim.model.Word2Vec.load)

    def run(self):
        # -- train word2vec ---
        word2vec = train_word2vec()
        self.dump(word2vec)
