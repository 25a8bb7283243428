"""An MLServer runtime that serves an ONNX graph with onnxruntime: the Open Inference
Protocol v2 peer that Iris's remote-model tests talk to. MLServer does the protocol (health,
metadata, infer); this class only loads the graph and runs it.

model-settings.json: {"implementation": "iris_oip_peer.OnnxGraph", "parameters": {"uri": "graph.onnx"}};
`"extra": {"delay_seconds": 3}` in the parameters makes every answer that late (for timeout tests);
`"extra": {"record": "/path/batches.txt"}` appends each request's batch size to that file;
`"extra": {"threads": 2}` gives onnxruntime that many threads (default 1; the OIP benchmark).
"""
import asyncio

import numpy as np
import onnxruntime
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


class OnnxGraph(MLModel):
    async def load(self) -> bool:
        path = await get_model_uri(self.settings)
        extra = self.settings.parameters.extra or {}
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(extra.get("threads", 1))
        self._session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self._outputs = [output.name for output in self._session.get_outputs()]
        self._delay = float(extra.get("delay_seconds", 0))
        self._record = extra.get("record")
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds = {item.name: NumpyCodec.decode_input(item).astype(np.float32) for item in payload.inputs}
        wanted = [item.name for item in payload.outputs] if payload.outputs else self._outputs
        if self._record:
            with open(self._record, "a") as record:
                record.write(f"{next(iter(feeds.values())).shape[0]}\n")
        if self._delay:
            await asyncio.sleep(self._delay)
        try:
            results = self._session.run(wanted, feeds)
        except Exception as error:  # onnxruntime's own words, as the protocol's 400 error
            raise InferenceError(str(error)) from error
        return InferenceResponse(
            model_name=self.name,
            outputs=[NumpyCodec.encode_output(name, value) for name, value in zip(wanted, results)],
        )
