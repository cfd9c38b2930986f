"""Switchyard: an OpenAI-compatible LLM gateway on Flask and gevent."""
