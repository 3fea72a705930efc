import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { CreateSandboxDialog, validateSandbox } from '../pages/CreateSandboxDialog';
import type { Template } from '../types';
import { apiError, mockFetch } from './fetchMock';

const templates: Template[] = [
  { id: 'tpl-1', name: 'base', team_id: 'team-0', platform: true, type: 'image', size_bytes: 1, vcpus: 1, memory_mb: 512, created_at: '' },
  { id: 'tpl-2', name: 'py', team_id: 'team-1', platform: false, type: 'snapshot', size_bytes: 1, vcpus: 2, memory_mb: 1024, created_at: '' },
];

function setField(label: string, value: string) {
  fireEvent.change(screen.getByLabelText(label), { target: { value } });
}

describe('CreateSandboxDialog', () => {
  it('validates each field and names the problem beside it', async () => {
    const { calls } = mockFetch({});
    render(<CreateSandboxDialog templates={templates} onClose={vi.fn()} onCreated={vi.fn()} />);
    expect(screen.getByRole('dialog', { name: 'Create sandbox' })).toBeTruthy();
    setField('vCPUs', '0');
    setField('Memory (MiB)', '12x');
    setField('Disk size (MiB)', '512');
    setField('Timeout (seconds)', '-5');
    fireEvent.click(screen.getByRole('button', { name: 'Create' }));
    expect(await screen.findByText('Choose a template')).toBeTruthy();
    expect(screen.getByText('vCPUs must be between 1 and 64')).toBeTruthy();
    expect(screen.getByText('Memory must be a whole number')).toBeTruthy();
    expect(screen.getByText('Disk size must be between 1024 and 1048576')).toBeTruthy();
    expect(screen.getByText('Timeout must be a whole number')).toBeTruthy();
    expect(screen.getByLabelText('Template').getAttribute('aria-invalid')).toBe('true');
    const disk = screen.getByLabelText('Disk size (MiB)');
    expect(disk.getAttribute('aria-invalid')).toBe('true');
    expect(disk.getAttribute('aria-describedby')).toContain('-err');
    expect(calls).toHaveLength(0); // nothing was sent
  });

  it('sends only the set fields, as numbers', async () => {
    const created = { id: 'sb-1', status: 'running' };
    const { calls } = mockFetch({ 'POST /v1/sandboxes': { status: 201, json: created } });
    const onCreated = vi.fn();
    render(<CreateSandboxDialog templates={templates} initialTemplate="py" onClose={vi.fn()} onCreated={onCreated} />);
    expect((screen.getByLabelText('Template') as HTMLSelectElement).value).toBe('py');
    expect(screen.getByText('template: 2')).toBeTruthy();
    setField('Memory (MiB)', '2048');
    fireEvent.click(screen.getByRole('button', { name: 'Create' }));
    await waitFor(() => expect(onCreated).toHaveBeenCalledWith(created));
    expect(calls[0].body).toEqual({ template: 'py', memory_mb: 2048, disk_size_mb: 20480, timeout_sec: 300 });
  });

  it('shows the server error as sent and marks its field', async () => {
    mockFetch({ 'POST /v1/sandboxes': apiError(400, 'invalid_argument', 'disk_size_mb: must be at most 204800', 'disk_size_mb') });
    render(<CreateSandboxDialog templates={templates} initialTemplate="base" onClose={vi.fn()} onCreated={vi.fn()} />);
    setField('Disk size (MiB)', '999999');
    fireEvent.click(screen.getByRole('button', { name: 'Create' }));
    expect((await screen.findByRole('alert')).textContent).toBe('disk_size_mb: must be at most 204800');
    expect(screen.getByLabelText('Disk size (MiB)').getAttribute('aria-invalid')).toBe('true');
  });

  it('closes on Escape and keeps Tab inside the dialog', () => {
    mockFetch({});
    const onClose = vi.fn();
    render(<CreateSandboxDialog templates={templates} onClose={onClose} onCreated={vi.fn()} />);
    const dialog = screen.getByRole('dialog');
    expect(dialog.contains(document.activeElement)).toBe(true);
    const buttons = dialog.querySelectorAll('button');
    const last = buttons[buttons.length - 1] as HTMLElement;
    last.focus();
    fireEvent.keyDown(document.activeElement!, { key: 'Tab' });
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Close dialog' }));
    fireEvent.keyDown(document.activeElement!, { key: 'Tab', shiftKey: true });
    expect(document.activeElement).toBe(last);
    fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it('validateSandbox accepts empty optional fields', () => {
    expect(validateSandbox({ template: 'base', vcpus: '', memory_mb: '', disk_size_mb: '', timeout_sec: '' })).toEqual({});
    expect(validateSandbox({ template: 'base', vcpus: '65', memory_mb: '127', disk_size_mb: '1024', timeout_sec: '1' })).toEqual({
      vcpus: 'vCPUs must be between 1 and 64',
      memory_mb: 'Memory must be between 128 and 262144',
    });
  });
});
