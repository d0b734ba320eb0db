"""Tiny Video-LLMs of every supported family, built offline: a config with random weights and a
byte-level BPE tokenizer trained here on a few sentences, with the family's special tokens and
a chat template in the style of the released model. Saved to a folder, they load back through
``hf:<folder>`` exactly as a user's model does (upstream libraries test their models the same
way). Processor settings are scaled down so a CPU runs them in well under a second; the
released models' settings are checked against ``vidllm.budget.PROFILES`` in test_budget.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

needs_transformers = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("transformers", "torch", "torchvision")),
    reason="needs transformers, torch and torchvision (pip install 'vidllm[hf]')",
)

CORPUS = [
    "What is happening in this video? Describe the video in detail.",
    "A person rides a bicycle down a busy street between cars and trees.",
    "The frames show a counter, a moving square and some text at 1.5 seconds.",
    "system user assistant Answer with the option's letter. Frame from 00:01",
] * 8

QWEN_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
               "<|image_pad|>", "<|video_pad|>"]
LLAVA_TOKENS = ["<unk>", "<s>", "</s>", "<image>", "<video>"]
CHATML_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
SMOL_TOKENS = (["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<global-img>",
                "<image>", "<video>"] + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)])

QWEN_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' and default_system %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>{% elif c['type'] == 'text' %}"
    "{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<image>\n{% elif c['type'] == 'video' %}<video>\n{% elif c['type'] == 'text' %}"
    "{{ c['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
VICUNA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'][0]['text'] }} "
    "{% else %}{{ message['role'].upper() }}: {% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% elif c['type'] == 'video' %}<video>\n{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %} "
    "{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
SMOL_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% elif line['type'] == 'video' %}{{ '<video>' }}{% endif %}"
    "{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=8192)
VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
PINPOINTS = [[56, 56], [56, 112], [112, 56], [112, 112]]

FAMILIES = ["qwen2-vl", "qwen2.5-vl", "qwen3-vl", "smolvlm2", "llava-onevision", "llava-next-video", "video-llava"]
# families only the transformers backend is tested with (vLLM's request format is not checked for them)
HF_ONLY_FAMILIES = ["internvl"]


def tokenizer(special: list[str], **attrs):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=special, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, **attrs)


def _qwen(family: str):
    import transformers as T
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import (
        Qwen2VLImageProcessor,
    )

    tok = tokenizer(QWEN_TOKENS, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    ids = {s: tok.convert_tokens_to_ids(s) for s in QWEN_TOKENS}
    special = dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                   vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    text = dict(TEXT, vocab_size=len(tok), eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
                bos_token_id=ids["<|endoftext|>"])
    if family == "qwen3-vl":
        from transformers.models.qwen3_vl.video_processing_qwen3_vl import (
            Qwen3VLVideoProcessor,
        )

        config = T.Qwen3VLConfig(
            text_config=dict(text, head_dim=16, rope_scaling={"rope_type": "default", "mrope_section": [2, 3, 3],
                                                              "mrope_interleaved": True}),
            vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                               patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
                               num_position_embeddings=64, deepstack_visual_indexes=[0]),
            **special)
        size = {"shortest_edge": 8 * 32 * 32, "longest_edge": 64 * 32 * 32}
        processor = T.Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(patch_size=16, size=size),
                                       tokenizer=tok, video_processor=Qwen3VLVideoProcessor(size=size),
                                       chat_template=QWEN_TEMPLATE.replace("default_system", "false"))
        return T.Qwen3VLForConditionalGeneration(config), processor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import (
        Qwen2VLVideoProcessor,
    )

    vision = dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=14, spatial_merge_size=2,
                  temporal_patch_size=2)
    text["rope_scaling"] = {"type": "mrope", "mrope_section": [2, 3, 3]}
    if family == "qwen2.5-vl":
        vision.update(out_hidden_size=32, window_size=112, fullatt_block_indexes=[0], tokens_per_second=2)
        config, model_cls, proc_cls = T.Qwen2_5_VLConfig, T.Qwen2_5_VLForConditionalGeneration, T.Qwen2_5_VLProcessor
    else:
        vision.update(embed_dim=32, num_heads=2, mlp_ratio=2)
        config, model_cls, proc_cls = T.Qwen2VLConfig, T.Qwen2VLForConditionalGeneration, T.Qwen2VLProcessor
    size = {"shortest_edge": 8 * 28 * 28, "longest_edge": 64 * 28 * 28}
    processor = proc_cls(image_processor=Qwen2VLImageProcessor(size=size), tokenizer=tok,
                         video_processor=Qwen2VLVideoProcessor(size=size),
                         chat_template=QWEN_TEMPLATE.replace("default_system", "true"))
    return model_cls(config(text_config=text, vision_config=vision, **special)), processor


def _smolvlm(family: str):
    import transformers as T
    from transformers.models.smolvlm.image_processing_smolvlm import (
        SmolVLMImageProcessor,
    )
    from transformers.models.smolvlm.video_processing_smolvlm import (
        SmolVLMVideoProcessor,
    )

    tok = tokenizer(SMOL_TOKENS, eos_token="<end_of_utterance>", pad_token="<|endoftext|>",
                    extra_special_tokens={"fake_image_token": "<fake_token_around_image>", "image_token": "<image>",
                                          "end_of_utterance_token": "<end_of_utterance>",
                                          "global_image_token": "<global-img>"})
    config = T.SmolVLMConfig(vision_config=dict(VISION, image_size=64, patch_size=16),
                             text_config=dict(TEXT, model_type="llama", vocab_size=len(tok)),
                             scale_factor=2, image_token_id=tok.convert_tokens_to_ids("<image>"))
    sizes = dict(size={"longest_edge": 128}, max_image_size={"longest_edge": 64})
    processor = T.SmolVLMProcessor(image_processor=SmolVLMImageProcessor(**sizes), tokenizer=tok,
                                   video_processor=SmolVLMVideoProcessor(**sizes), image_seq_len=4,
                                   chat_template=SMOL_TEMPLATE)
    return T.SmolVLMForConditionalGeneration(config), processor


def _llava(family: str):
    import transformers as T

    if family == "llava-onevision":
        from transformers.models.llava_onevision.image_processing_llava_onevision import (
            LlavaOnevisionImageProcessor,
        )
        from transformers.models.llava_onevision.video_processing_llava_onevision import (
            LlavaOnevisionVideoProcessor,
        )

        tok = tokenizer(CHATML_TOKENS, eos_token="<|im_end|>", pad_token="<|endoftext|>")
        config = T.LlavaOnevisionConfig(
            vision_config=dict(VISION, model_type="siglip_vision_model", image_size=56, patch_size=14),
            text_config=dict(TEXT, model_type="qwen2", vocab_size=len(tok)),
            image_token_index=tok.convert_tokens_to_ids("<image>"), video_token_index=tok.convert_tokens_to_ids("<video>"),
            image_grid_pinpoints=PINPOINTS, vision_feature_select_strategy="full", vision_feature_layer=-1)
        square = {"height": 56, "width": 56}
        processor = T.LlavaOnevisionProcessor(
            image_processor=LlavaOnevisionImageProcessor(size=square, image_grid_pinpoints=PINPOINTS), tokenizer=tok,
            video_processor=LlavaOnevisionVideoProcessor(size=square), num_image_tokens=16,
            vision_feature_select_strategy="full", chat_template=CHATML_TEMPLATE)
        return T.LlavaOnevisionForConditionalGeneration(config), processor
    tok = tokenizer(LLAVA_TOKENS, bos_token="<s>", eos_token="</s>", pad_token="<unk>", unk_token="<unk>")
    vision = dict(VISION, model_type="clip_vision_model", image_size=56, patch_size=14, projection_dim=32)
    text = dict(TEXT, model_type="llama", vocab_size=len(tok))
    ids = dict(image_token_index=tok.convert_tokens_to_ids("<image>"), video_token_index=tok.convert_tokens_to_ids("<video>"))
    sizes = dict(size={"shortest_edge": 56}, crop_size={"height": 56, "width": 56})
    common = dict(tokenizer=tok, patch_size=14, vision_feature_select_strategy="default", num_additional_image_tokens=1,
                  chat_template=VICUNA_TEMPLATE)
    if family == "llava-next-video":
        from transformers.models.llava_next.image_processing_llava_next import (
            LlavaNextImageProcessor,
        )
        from transformers.models.llava_next_video.video_processing_llava_next_video import (
            LlavaNextVideoVideoProcessor,
        )

        config = T.LlavaNextVideoConfig(vision_config=vision, text_config=text, image_grid_pinpoints=PINPOINTS,
                                        vision_feature_layer=-1, **ids)
        processor = T.LlavaNextVideoProcessor(
            video_processor=LlavaNextVideoVideoProcessor(**sizes),
            image_processor=LlavaNextImageProcessor(image_grid_pinpoints=PINPOINTS, **sizes), **common)
        return T.LlavaNextVideoForConditionalGeneration(config), processor
    from transformers.models.video_llava.image_processing_video_llava import (
        VideoLlavaImageProcessor,
    )
    from transformers.models.video_llava.video_processing_video_llava import (
        VideoLlavaVideoProcessor,
    )

    config = T.VideoLlavaConfig(vision_config=vision, text_config=text, vision_feature_layer=-1, **ids)
    processor = T.VideoLlavaProcessor(image_processor=VideoLlavaImageProcessor(**sizes),
                                      video_processor=VideoLlavaVideoProcessor(**sizes), **common)
    return T.VideoLlavaForConditionalGeneration(config), processor


INTERNVL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>"]
INTERNVL_TEMPLATE = CHATML_TEMPLATE.replace("<image>\n", "<IMG_CONTEXT>\n")


def _internvl(family: str):
    """InternVL 3 (-hf layout): InternViT with 56 px frames, 14 px patches and pixel shuffle 0.5,
    so 4 tokens a frame (the released 448 px give 256), a Qwen2 language model."""
    import transformers as T
    from transformers.models.got_ocr2.image_processing_got_ocr2 import (
        GotOcr2ImageProcessor,
    )
    from transformers.models.internvl.video_processing_internvl import (
        InternVLVideoProcessor,
    )

    tok = tokenizer(INTERNVL_TOKENS, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                    extra_special_tokens={"start_image_token": "<img>", "end_image_token": "</img>",
                                          "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"})
    config = T.InternVLConfig(
        vision_config=dict(VISION, image_size=[56, 56], patch_size=[14, 14]),
        text_config=dict(TEXT, model_type="qwen2", vocab_size=len(tok)),
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"), downsample_ratio=0.5)
    square = {"height": 56, "width": 56}
    processor = T.InternVLProcessor(image_processor=GotOcr2ImageProcessor(size=square), tokenizer=tok,
                                    video_processor=InternVLVideoProcessor(size=square), image_seq_length=4,
                                    chat_template=INTERNVL_TEMPLATE)
    return T.InternVLForConditionalGeneration(config), processor


BUILDERS = {"internvl": _internvl, "qwen2-vl": _qwen, "qwen2.5-vl": _qwen, "qwen3-vl": _qwen, "smolvlm2": _smolvlm,
            "llava-onevision": _llava, "llava-next-video": _llava, "video-llava": _llava}


def build(family: str, folder: Path) -> Path:
    """Build the tiny ``family`` model into ``folder`` and return it."""
    import torch

    torch.manual_seed(0)
    model, processor = BUILDERS[family](family)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
