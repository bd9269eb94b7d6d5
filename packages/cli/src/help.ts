import { UPSCALE_OPTION_SPECS, type UpscaleValueOptionName, upscaleOptionSpec } from '@stablesr/stablesr';
import { ENGINE_HELP } from './options/engineOptions.js';

const SAMPLING = UPSCALE_OPTION_SPECS.map((o) => o.name).filter((n) => n !== 'quantize' && n !== 'bitDepth');
const WIDTH = 112;
const INDENT = 27;

/** Usage lines of pipeline options, from the library's option table (flag, placeholder, doc), wrapped at {@link WIDTH}. */
function optionLines(names: readonly UpscaleValueOptionName[]): string {
  return names
    .map((n) => {
      const s = upscaleOptionSpec(n);
      const lines: string[] = [];
      let line = `  --${s.flag} ${s.arg}`.padEnd(INDENT - 1) + ' ';
      if (line.length > INDENT) line += ' ';
      for (const word of s.doc.split(' ')) {
        if (line.length + word.length > WIDTH && line.trim() !== '') {
          lines.push(line.trimEnd());
          line = ' '.repeat(INDENT);
        }
        line += `${word} `;
      }
      lines.push(line.trimEnd());
      return lines.join('\n');
    })
    .join('\n');
}

/** `stablesr --help`. */
export const MAIN_HELP = `stablesr — latent-diffusion super-resolution (StableSR) on ONNX Runtime or TensorFlow.js

Usage:
  stablesr upscale <input> <output> --checkpoint FILE [options]   4× super-resolution of an image or a folder
  stablesr serve [--redis URL] [--port P] [--token T] [model flags]   HTTP API: upscale jobs, in process or on Redis
  stablesr worker --redis URL [--concurrency N] [model flags]      run the jobs of a Redis-backed serve
  stablesr train --data DIR --out DIR --steps N [options]         train an IR-SDE upscaler on a folder of photos
  stablesr generate --prompt TEXT --checkpoint FILE --latents-out FILE.safetensors [options]
                                                                  text-to-latent generation (SD 2.x)
  stablesr parity <fixture-dir>... [--engine E] [--backend B] [--mode free|stepwise]
                                                                  check against golden reference fixtures
  stablesr inspect <weights> [--json]                             list tensors, dtypes, shapes and parameter count
  stablesr convert <in> <out.safetensors> [--fp16]                convert a checkpoint to safetensors
  stablesr <command> --help                                       options of one command

Engines: auto (default: ONNX Runtime when it loads, else tfjs), onnxruntime, tfjs (also STABLESR_ENGINE).
Backends of the tfjs engine: auto (default), wasm, cpu, tensorflow, tensorflow-gpu (also STABLESR_BACKEND).
Exit codes: 0 success, 1 runtime failure, 2 bad usage. Errors are one line; --verbose adds the stack.`;

/** `stablesr upscale --help`. */
export const UPSCALE_HELP = `stablesr upscale <input> <output> [--checkpoint FILE] [options]

<input> and <output> are image files (.png .jpg .jpeg .webp .tif .tiff; input also .gif .avif .heic),
or both folders: every image in <input> is upscaled into <output> (created if missing), same file names.

Weights:
  (none)                   the shipped default model: stablesr's own 4× IR-SDE network (10 MB, trained by
                           npm run train:default; see packages/default-model/models/irsde-4x-small/MODEL_CARD.md)
  --checkpoint FILE        StableSR diffusion checkpoint (stablesr_000117.ckpt, stablesr_768v_000139.ckpt,
                           or .safetensors with the same keys), or an IR-SDE ConditionalUNet state dict
                           (the authors' .pth / .safetensors, or one written by stablesr train): the family
                           is read off the keys
  --model stablesr|irsde   force the model family instead
                           An IR-SDE model takes --scale (4), --steps (1…its T, default T = 100; fewer than T
                           are evenly spaced timesteps, posterior sampler only), --sampler sde|posterior
                           (posterior), --temperature 0…2 (scale of the sampler's noise, 1; 0 = deterministic),
                           --self-ensemble on|off (average the network over the 8 flips/transposes: 8× the
                           cost, off), --seed, --tile-size (256 × the model's pixel unshuffle: 1024 px for the
                           default model) and --tile-overlap (tile/4) only; a model trained by stablesr (the
                           default one too) brings its own defaults for these.
  --cfw FILE               CFW autoencoder vqgan_cfw_00011.ckpt (without it: plain VAE decoder, --fidelity unused)
  --preset 512|768v        built-in model configuration (default 512); the 768 model needs --preset 768v,
                           it cannot be told apart from its weights
  --config FILE.yaml       model configuration (official v2-finetune_text_T_*.yaml layout); structural
                           values it does not give are read off the weights, the rest comes from --preset
  --cfw-config FILE.yaml   CFW autoencoder configuration (official autoencoder_kl_64x64x4_resi.yaml
                           layout; default: read off the --cfw weights, e.g. num_fuse_block)
  --text-encoder FILE      OpenCLIP text tower weights (default: cond_stage_model.* of the checkpoint)
  --tokenizer FILE|DIR     bpe_simple_vocab_16e6.txt.gz, or the folder holding it (only for --prompt /
                           --negative-prompt)
Sampling (defaults: the official scripts'):
${optionLines(SAMPLING)}
Output:
${optionLines(['quantize', 'bitDepth'])}
  --format png|jpeg|webp|tiff  output format for folders (default: that of each input)
  --concurrency N          images processed at once for folders, 1…16 (default 1)
Runtime:
${ENGINE_HELP}
  --backend auto|wasm|cpu|tensorflow|tensorflow-gpu   tfjs backend (the tfjs engine, and host math on every engine)
  --vae-tile-size N        images / latents larger than N pixels per side go through the VAE in tiles (default 512)
  --weights auto|backend|host   where the networks' weights live: host = JS memory, uploaded to the backend
                           per layer / call (default auto: host on wasm when the U-Net exceeds 1 GiB)
  --quiet                  no progress bar, no summary line
  --json                   print a JSON result (outputs, sizes, engine, timings per stage, steps, tiles, seconds,
                           peak memory) on stdout
  --verbose                stack traces on errors

Grayscale input is written back as grayscale; an alpha channel is upscaled separately (bicubic) and kept
(JPEG output composites it over white). Output files are written atomically: never a partial file.`;

/** `stablesr generate --help`. */
export const GENERATE_HELP = `stablesr generate --prompt TEXT --checkpoint FILE --latents-out FILE.safetensors [options]

  --prompt TEXT            what to generate                                                  (required)
  --negative-prompt TEXT   what to steer away from (the unconditional branch of guidance)
  --checkpoint FILE        SD 2.x checkpoint with model.diffusion_model.*                     (required)
  --preset 512|768v        built-in SD 2.1 configuration (default 512, ε-prediction); SD 2.1 768 (v) needs
                           --preset 768v: the two cannot be told apart from their weights
  --config FILE.yaml       model configuration (official v2-inference*.yaml layout); sections it does not
                           give come from --preset
  --text-encoder FILE      OpenCLIP text tower weights (default: cond_stage_model.* of the checkpoint)
  --tokenizer FILE|DIR     bpe_simple_vocab_16e6.txt.gz, or the folder holding it
  --vae FILE               first-stage VAE weights for --image-out (default: the checkpoint)
  --steps N                sampling steps, 1…1000 (default 50)
  --guidance S             classifier-free guidance scale ≥ 0 (default 9; 1 = off)
  --width N --height N     image size in pixels, multiples of VAE × U-Net downsampling (64 for SD 2.x;
                           default 512×512)
  --sampler ddim|ddpm|dpmpp-2m|euler-a   (default ddim)
  --seed N                 random seed, 0…4294967295 (default 42)
  --latents-out FILE.safetensors   where the latents go (tensor "latents", NCHW, the sampler output
                           before the 1/0.18215 VAE scaling)                                  (required)
  --image-out FILE         also decode and write the image (.png .jpg .webp .tif)
  --engine E  --threads N  --device D  --no-prepack  --backend B  --weights W  --quiet  --json  --verbose
                           as for upscale`;

/** `stablesr train --help`. */
export const TRAIN_HELP = `stablesr train --data DIR --out DIR --steps N [options]

Trains an IR-SDE super-resolution model (ConditionalUNet + the mean-reverting SDE's maximum-likelihood loss) on a
folder of photographs: random crops, flips and rotations, LQ by MATLAB bicubic downscaling, a held-out validation
split scored by PSNR-Y. Writes into --out: checkpoint.safetensors (weights, Adam state, step, random stream),
model.safetensors (EMA weights; upscale with: stablesr upscale in.png out.png --checkpoint OUT/model.safetensors)
and training-curve.png. Running the same command again resumes from the last checkpoint.

  --data DIR            training images (png, jpeg, webp, tiff, …; other files are ignored)
  --out DIR             output folder (created; resumes when it holds a checkpoint of the same model)
  --steps N             total optimizer steps
  --model irsde         model family (irsde; stablesr-unet and sd-unet are not trainable here yet)
  --objective irsde-ml|x0  irsde-ml: the reference's maximum-likelihood loss; x0: stablesr's x₀-prediction
                        loss (use with --parameterization x0; see README Training)
  --batch B             patches per step (default 4)
  --patch P             HQ patch side, a multiple of --scale (default 128)
  --scale S             upscaling factor (default 4)
  --lr LR               peak learning rate (default 1e-4)
  --lr-schedule S       cosine (default; to lr/100) or constant
  --warmup N            linear warm-up steps (default 0)
  --optimizer O         adam (default) or adamw
  --weight-decay W      default 0
  --ema D               EMA decay of the saved model weights, 0 = off (default 0.999)
  --seed S              crops, augmentation, noise, initialisation, split (default 0)
  --nf N, --depth N     ConditionalUNet width and levels (default 64, 4: the official SISR network)
  --pixel-unshuffle R   run the network on the R×-smaller grid of pixel-unshuffled inputs (default 1)
  --max-sigma L, --T N, --theta-schedule S   the SDE (default 30, 100, cosine)
  --loss l1|l2          matching loss (default l1)
  --parameterization eps|residual|x0|edm  network output: the noise (eps, the reference), or stablesr's
                        preconditioned forms (untrained = bicubic; see README)
  --val-count N         held-out images (default a tenth, ≥ 1 with two or more images)
  --val-data DIR        validate on this folder's images instead; every --data image trains
  --val-every N         validate every N steps (default steps/10)
  --val-crop N          HQ side of each validation crop (default 256)
  --val-sampler S       posterior (default) or sde, for validation and as the model's default
  --val-temperature X   noise temperature of validation sampling, 0…2 (default 1), kept as the model's default
  --checkpoint-every N  default 100
  --workers N           extra threads computing each step's gradients on their rows of the batch
                        (data parallel; 1 uses a second core; default 0)
  --init FILE           start from these IR-SDE weights (same network) instead of a fresh initialisation
  --engine, --threads   engine for validation sampling (training itself runs on tfjs)
  --json                print {"startStep","step","loss","valPsnr","checkpoint"} at the end
  --quiet               no progress line`;

const MODEL_HELP = `Model (as for upscale; serve takes them only without --redis):
  --checkpoint FILE  --model stablesr|irsde  --cfw FILE  --config FILE  --cfw-config FILE  --text-encoder FILE
  --tokenizer FILE|DIR  --preset 512|768v  --vae-tile-size N  --weights W  --backend B
  --name NAME              the name requests select it by (?model=NAME; default: stablesr, irsde, or default)
${ENGINE_HELP}`;

/** `stablesr serve --help`. */
export const SERVE_HELP = `stablesr serve [--redis URL] [--host H] [--port P] [--token T] [limits] [model flags]

A JSON HTTP API for upscaling (OpenAPI document at GET /openapi.json):
  POST   /v1/upscale?scale=4&steps=50&…   body: the image bytes (Content-Type: image/*); query parameters are
                                          upscale's flags (and model=NAME when several models are loaded)
                                          → 202 {"id", "status": "queued"}
  GET    /v1/jobs/ID                      → {"id", "status", "progress", "etaSeconds", "error", "outputSize"}
  GET    /v1/jobs/ID/result               → the PNG (409 while not done, 404 unknown)
  DELETE /v1/jobs/ID                      cancels (a running job stops at its next step)
  GET    /healthz, /metrics (Prometheus), /openapi.json

  --redis URL              jobs on Redis (BullMQ): stablesr worker processes run them, on any machines;
                           without it, the model loads here and jobs run in this process (not durable)
  --host H                 address to listen on (default 127.0.0.1)
  --port P                 port (default 8080; 0 picks a free one, printed)
  --token T                every route but /healthz needs "Authorization: Bearer T" (≥ 16 characters;
                           also STABLESR_TOKEN)
  --max-body-mb M          largest upload (default 20)
  --max-pixels N           largest input, width × height, read off the header (default 16777216)
  --max-queued N           waiting jobs above which submissions get 429 + Retry-After (default 100)
  --result-ttl S           seconds results are kept (default 3600)
  --concurrency N          in-process mode: jobs run at once (default 1)
  --attempts N             Redis mode: tries per job or patch, killed workers included (default 3)
${MODEL_HELP}

SIGTERM or Ctrl-C drains: no new requests; in-process jobs that run finish.`;

/** `stablesr worker --help`. */
export const WORKER_HELP = `stablesr worker --redis URL [--concurrency N] [model flags]

Loads the model and runs the jobs a "stablesr serve --redis URL" accepts; start as many as there are machines.
An image of several StableSR pixel patches is split: each patch is a job of its own (any worker), and one
worker blends them (the same bytes as one process).

  --redis URL              the Redis the service uses (redis://host:port)
  --concurrency N          jobs, and separately patches, run at once (default 1)
  --lock-seconds S         a job's lock; a killed worker's jobs go to another worker after about this long
                           plus --stalled-seconds (default 120; keep it above one network evaluation on tfjs)
  --stalled-seconds S      how often to look for jobs of dead workers (default 30)
  --attempts N             tries per job counted on this side for stalled jobs (default 3)
${MODEL_HELP}

SIGTERM or Ctrl-C drains: running jobs finish, queued ones stay for other workers.`;
