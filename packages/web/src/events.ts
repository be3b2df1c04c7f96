import { useEffect, useRef } from 'react';

export interface StudyChangeEvent {
  studyInstanceUid: string;
  action: 'created' | 'updated' | 'deleted';
  seq: number;
}

/** Calls `onChange` for every study change the server reports (`/api/events`, Server-Sent Events). */
export function useStudyEvents(onChange: (event: StudyChangeEvent) => void): void {
  const callback = useRef(onChange);
  callback.current = onChange;
  useEffect(() => {
    const source = new EventSource('/api/events');
    source.addEventListener('study', (message) => callback.current(JSON.parse((message as MessageEvent<string>).data) as StudyChangeEvent));
    return () => source.close();
  }, []);
}
