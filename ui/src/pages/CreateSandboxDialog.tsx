import { useState, type FormEvent } from 'react';
import { ApiError, errorMessage, post } from '../api';
import type { Sandbox, Template } from '../types';
import { Dialog, ErrorText } from '../components/Dialog';
import { Field } from '../components/Field';

export interface SandboxForm {
  template: string;
  vcpus: string;
  memory_mb: string;
  disk_size_mb: string;
  timeout_sec: string;
}

type Errors = Partial<Record<keyof SandboxForm, string>>;

function intIn(v: string, name: string, min: number, max: number): string | undefined {
  if (v.trim() === '') return undefined;
  if (!/^\d+$/.test(v.trim())) return `${name} must be a whole number`;
  const n = Number(v);
  if (n < min || n > max) return `${name} must be between ${min} and ${max}`;
  return undefined;
}

/** validateSandbox answers the form's errors by field; empty optional fields use the server's defaults. */
export function validateSandbox(f: SandboxForm): Errors {
  const e: Errors = {};
  if (!f.template) e.template = 'Choose a template';
  const checks: [keyof SandboxForm, string, number, number][] = [
    ['vcpus', 'vCPUs', 1, 64],
    ['memory_mb', 'Memory', 128, 262144],
    ['disk_size_mb', 'Disk size', 1024, 1048576],
    ['timeout_sec', 'Timeout', 1, 2592000],
  ];
  for (const [k, name, min, max] of checks) {
    const msg = intIn(f[k], name, min, max);
    if (msg) e[k] = msg;
  }
  return e;
}

export function CreateSandboxDialog({ templates, initialTemplate, onClose, onCreated }: {
  templates: Template[];
  initialTemplate?: string;
  onClose: () => void;
  onCreated: (s: Sandbox) => void;
}) {
  const [f, setF] = useState<SandboxForm>({
    template: initialTemplate ?? '',
    vcpus: '',
    memory_mb: '',
    disk_size_mb: '20480',
    timeout_sec: '300',
  });
  const [errors, setErrors] = useState<Errors>({});
  const [serverError, setServerError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k: keyof SandboxForm) => (v: string) => setF({ ...f, [k]: v });
  const chosen = templates.find((t) => t.name === f.template);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const errs = validateSandbox(f);
    setErrors(errs);
    setServerError('');
    if (Object.keys(errs).length > 0) return;
    const body: Record<string, unknown> = { template: f.template };
    for (const k of ['vcpus', 'memory_mb', 'disk_size_mb', 'timeout_sec'] as const) {
      if (f[k].trim() !== '') body[k] = Number(f[k]);
    }
    setBusy(true);
    try {
      onCreated(await post<Sandbox>('/v1/sandboxes', body));
    } catch (err) {
      setServerError(errorMessage(err));
      const field = err instanceof ApiError ? err.field : undefined;
      if (field && field in f) setErrors({ [field]: err instanceof Error ? err.message : '' });
      setBusy(false);
    }
  };

  return (
    <Dialog title="Create sandbox" onClose={onClose}>
      <form onSubmit={submit} noValidate className="form">
        <Field label="Template" error={errors.template}>
          {(p) => (
            <select {...p} value={f.template} onChange={(e) => set('template')(e.target.value)}>
              <option value="">Choose a template…</option>
              {templates.map((t) => (
                <option key={t.id} value={t.name}>
                  {t.name}
                  {t.platform ? ' (platform)' : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="grid2">
          <Field label="vCPUs" error={errors.vcpus} hint={chosen ? `template: ${chosen.vcpus}` : 'template default'}>
            {(p) => <input {...p} inputMode="numeric" value={f.vcpus} onChange={(e) => set('vcpus')(e.target.value)} placeholder={chosen ? String(chosen.vcpus) : ''} />}
          </Field>
          <Field label="Memory (MiB)" error={errors.memory_mb} hint={chosen ? `template: ${chosen.memory_mb}` : 'template default'}>
            {(p) => <input {...p} inputMode="numeric" value={f.memory_mb} onChange={(e) => set('memory_mb')(e.target.value)} placeholder={chosen ? String(chosen.memory_mb) : ''} />}
          </Field>
          <Field label="Disk size (MiB)" error={errors.disk_size_mb} hint="1024 or more">
            {(p) => <input {...p} inputMode="numeric" value={f.disk_size_mb} onChange={(e) => set('disk_size_mb')(e.target.value)} />}
          </Field>
          <Field label="Timeout (seconds)" error={errors.timeout_sec} hint="killed after this long">
            {(p) => <input {...p} inputMode="numeric" value={f.timeout_sec} onChange={(e) => set('timeout_sec')(e.target.value)} />}
          </Field>
        </div>
        {serverError && <ErrorText message={serverError} />}
        <div className="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={busy}>{busy ? 'Creating…' : 'Create'}</button>
        </div>
      </form>
    </Dialog>
  );
}
