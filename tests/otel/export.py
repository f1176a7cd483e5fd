"""Exports GenAI telemetry to clawmetry with the official OpenTelemetry Python SDK.

Usage: export.py ENDPOINT MODE   (MODE: proto | gzip | json | metrics | dedupe SESSION_ID)
Prints one JSON line describing what was sent.
"""
import json
import sys
import urllib.request

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

endpoint, mode = sys.argv[1], sys.argv[2]


def chat(tracer, model, provider, conv, inp, out, cache_read=None):
    with tracer.start_as_current_span(f"chat {model}") as s:
        s.set_attribute("gen_ai.operation.name", "chat")
        s.set_attribute("gen_ai.request.model", model)
        s.set_attribute("gen_ai.provider.name", provider)
        s.set_attribute("gen_ai.conversation.id", conv)
        s.set_attribute("gen_ai.usage.input_tokens", inp)
        s.set_attribute("gen_ai.usage.output_tokens", out)
        if cache_read is not None:
            s.set_attribute("gen_ai.usage.cache_read.input_tokens", cache_read)


def agent_run(tracer, conv):
    # The agent span repeats its children's totals: it must not be counted again.
    with tracer.start_as_current_span("invoke_agent planner") as a:
        a.set_attribute("gen_ai.operation.name", "invoke_agent")
        a.set_attribute("gen_ai.agent.name", "planner")
        a.set_attribute("gen_ai.usage.input_tokens", 1700)
        a.set_attribute("gen_ai.usage.output_tokens", 350)
        chat(tracer, "gpt-4o", "openai", conv, 1200, 300)
        chat(tracer, "claude-sonnet-4-5", "anthropic", conv, 500, 50, cache_read=100)


if mode in ("proto", "gzip"):
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(
        endpoint=f"{endpoint}/v1/traces",
        compression=Compression.Gzip if mode == "gzip" else Compression.NoCompression,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": f"genai-app-{mode}"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    agent_run(provider.get_tracer("test"), f"conv-otel-{mode}")
    provider.shutdown()
    print(json.dumps({"sent": "spans", "conversation": f"conv-otel-{mode}"}))

elif mode == "json":
    # The SDK has no JSON exporter: encode with its own protobuf encoder, then print the
    # message in protobuf's JSON mapping (ids come out base64, not hex).
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "genai-app-json"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    agent_run(provider.get_tracer("test"), "conv-otel-json")
    body = MessageToJson(encode_spans(memory.get_finished_spans())).encode()
    req = urllib.request.Request(f"{endpoint}/v1/traces", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        print(json.dumps({"sent": "json", "status": r.status, "response": json.loads(r.read() or b"{}")}))

elif mode == "dedupe":
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "openclaw"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    with provider.get_tracer("openclaw").start_as_current_span("openclaw.model.usage") as s:
        s.set_attribute("openclaw.sessionId", sys.argv[3])
        s.set_attribute("openclaw.provider", "fakellm")
        s.set_attribute("openclaw.model", "fake-model")
        s.set_attribute("openclaw.tokens.input", 7777)
        s.set_attribute("openclaw.tokens.output", 77)
    provider.shutdown()
    print(json.dumps({"sent": "dedupe"}))

elif mode == "metrics":
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"), export_interval_millis=3_600_000
    )
    provider = MeterProvider(resource=Resource.create({"service.name": "metrics-app"}), metric_readers=[reader])
    meter = provider.get_meter("test")
    usage = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
    duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    attrs = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat"}
    usage.record(400, {**attrs, "gen_ai.token.type": "input"})
    usage.record(100, {**attrs, "gen_ai.token.type": "output"})
    duration.record(1.25, attrs)
    provider.force_flush()
    # Cumulative temporality: the second export repeats the first 400 and adds 250.
    usage.record(250, {**attrs, "gen_ai.token.type": "input"})
    provider.force_flush()
    provider.shutdown()  # exports the same totals once more: nothing new
    print(json.dumps({"sent": "metrics"}))
else:
    sys.exit(f"unknown mode {mode}")
