import type { ReactElement } from 'react';
import { render } from '@testing-library/react';
import { QueryClientProvider } from '@tanstack/react-query';
import { MemoryRouter } from 'react-router';
import { newQueryClient } from '../query';

/** renderPage renders a page with a fresh query cache and a router at path. */
export function renderPage(ui: ReactElement, path = '/') {
  const client = newQueryClient();
  const r = render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>{ui}</MemoryRouter>
    </QueryClientProvider>,
  );
  return { ...r, client };
}
