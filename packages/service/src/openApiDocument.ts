import { UPSCALE_OPTION_SPECS } from '@stablesr/stablesr';

const error = { description: 'One line naming the field at fault', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };

/** The OpenAPI 3.1 document of the API (`GET /openapi.json`); the upscale parameters come from the library's option table. */
export function openApiDocument(): Record<string, unknown> {
  const optionParams = UPSCALE_OPTION_SPECS.map((s) => ({
    name: s.flag,
    in: 'query',
    required: false,
    description: s.doc,
    schema: s.kind === 'choice' ? { enum: s.choices } : s.kind === 'string' ? { type: 'string' } : { type: s.kind === 'int' ? 'integer' : 'number', ...(s.min !== undefined && { minimum: s.min }), ...(s.max !== undefined && { maximum: s.max }), ...(s.above !== undefined && { exclusiveMinimum: s.above }) },
  }));
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{22}$' } };
  return {
    openapi: '3.1.0',
    info: { title: 'stablesr service', version: '1', description: 'Diffusion super-resolution as jobs: submit an image, poll, fetch the result. With --token every route but /healthz needs Authorization: Bearer.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
        Job: {
          type: 'object',
          required: ['id', 'status', 'progress'],
          properties: {
            id: { type: 'string' },
            status: { enum: ['queued', 'running', 'done', 'failed', 'cancelled'] },
            progress: { type: 'number', minimum: 0, maximum: 1 },
            etaSeconds: { type: 'number' },
            error: { type: 'string' },
            outputSize: { type: 'object', properties: { width: { type: 'integer' }, height: { type: 'integer' } } },
            patches: { type: 'integer', description: 'pixel patches the job was split into (1: not split)' },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/upscale': {
        post: {
          summary: 'Submit an image to upscale',
          parameters: [{ name: 'model', in: 'query', required: false, description: 'which loaded model (required when several are loaded)', schema: { type: 'string' } }, ...optionParams],
          requestBody: { required: true, content: { 'image/*': { schema: { type: 'string', format: 'binary' } } } },
          responses: {
            202: { description: 'Accepted', content: { 'application/json': { schema: { type: 'object', properties: { id: { type: 'string' }, status: { const: 'queued' } } } } } },
            400: error, 401: error, 413: error, 415: error,
            429: { ...error, description: 'Queue full; see Retry-After' },
            503: error,
          },
        },
      },
      '/v1/jobs/{id}': {
        get: { summary: 'Job status', parameters: [idParam], responses: { 200: { description: 'Status', content: { 'application/json': { schema: { $ref: '#/components/schemas/Job' } } } }, 404: error } },
        delete: { summary: 'Cancel a job (a running job stops at its next step)', parameters: [idParam], responses: { 200: { description: 'Cancelled', content: { 'application/json': { schema: { $ref: '#/components/schemas/Job' } } } }, 404: error, 409: error } },
      },
      '/v1/jobs/{id}/result': { get: { summary: 'The result image', parameters: [idParam], responses: { 200: { description: 'PNG', content: { 'image/png': {} } }, 404: error, 409: error } } },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { 200: { description: 'OK' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'Prometheus text format' } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    },
  };
}
